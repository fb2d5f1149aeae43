import { invalidType } from '../options.js'

/**
 * The part of OpenTelemetry's metrics API this library calls, declared structurally so that the
 * root entry neither imports `@opentelemetry/api` nor names it in its type declarations: an
 * application without OTel installs nothing and type-checks as before. A `MeterProvider` from
 * `@opentelemetry/api` (any 1.x) or `@opentelemetry/sdk-metrics` satisfies it.
 */
export interface MeterProviderLike {
  getMeter(name: string, version?: string, options?: { schemaUrl?: string }): MeterLike
}

export type MetricAttributes = Record<string, string | number | boolean>

export interface MeterLike {
  createHistogram(name: string, options?: InstrumentOptions): HistogramLike
  createCounter(name: string, options?: InstrumentOptions): CounterLike
  createObservableGauge(name: string, options?: InstrumentOptions): ObservableLike
  createObservableCounter(name: string, options?: InstrumentOptions): ObservableLike
  addBatchObservableCallback(callback: BatchCallback, observables: ObservableLike[]): void
  removeBatchObservableCallback(callback: BatchCallback, observables: ObservableLike[]): void
}

export interface InstrumentOptions {
  description?: string
  unit?: string
  advice?: { explicitBucketBoundaries?: number[] }
}

export interface HistogramLike {
  record(value: number, attributes?: MetricAttributes): void
}

export interface CounterLike {
  add(value: number, attributes?: MetricAttributes): void
}

// biome-ignore lint/suspicious/noEmptyInterface: an opaque handle passed back to the meter
export interface ObservableLike {}

export interface BatchResultLike {
  observe(observable: ObservableLike, value: number, attributes?: MetricAttributes): void
}

export type BatchCallback = (result: BatchResultLike) => void

/** The meter's name: the instrumentation scope every instrument is reported under. */
export const METER_NAME = 'headless-lb'

/**
 * Where `@opentelemetry/api` 1.x keeps what the application registered
 * (`metrics.setGlobalMeterProvider`, which the OTel Node SDK calls): reading it directly is what
 * lets the root entry record metrics without importing the API. The key and the `metrics` field
 * are the API's cross-version contract (every copy of api 1.x in a process shares them).
 */
const OTEL_GLOBAL = Symbol.for('opentelemetry.js.api.1')

/** The registered global MeterProvider, or undefined when the application registered none. */
export function globalMeterProvider(): MeterProviderLike | undefined {
  const api = (globalThis as Record<symbol, { metrics?: unknown } | undefined>)[OTEL_GLOBAL]
  const provider = api?.metrics
  return isMeterProvider(provider) ? provider : undefined
}

/**
 * The provider to record with: the option when given (`false` turns metrics off even with a
 * global provider), else the global one. Undefined: record nothing, subscribe to nothing.
 */
export function chooseMeterProvider(
  option: MeterProviderLike | false | undefined,
): MeterProviderLike | undefined {
  if (option === false) return undefined
  return option ?? globalMeterProvider()
}

/** Validates the `meterProvider` option (`path` names it in the message). */
export function meterProviderOption(path: string, value: unknown): MeterProviderLike | false | undefined {
  if (value === undefined || value === false) return value
  if (!isMeterProvider(value)) {
    throw invalidType(
      path,
      'an OpenTelemetry MeterProvider (an object with getMeter) or false',
      value,
      'Pass the MeterProvider of @opentelemetry/sdk-metrics, or leave it out to use the one registered globally',
    )
  }
  return value
}

function isMeterProvider(value: unknown): value is MeterProviderLike {
  return (
    typeof value === 'object' && value !== null && typeof (value as MeterProviderLike).getMeter === 'function'
  )
}
