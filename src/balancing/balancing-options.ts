import { invalidServiceNameReason } from '../discovery/dns-name.js'
import type { Endpoint } from '../endpoint.js'
import type {
  HealthCheckFunction,
  HealthCheckOptions,
  OutlierDetectionOptions,
  ResolvedHealthCheck,
  ResolvedOutlierDetection,
  ResolvedSlowStart,
  ResolvedStallDetection,
  SlowStartOptions,
  StallDetectionOptions,
} from '../health/health-options.js'
import {
  resolveHealthCheck,
  resolveOutlierDetection,
  resolveSlowStart,
  resolveStallDetection,
} from '../health/health-options.js'
import { type MeterProviderLike, meterProviderOption } from '../metrics/meter-provider.js'
import {
  durationMs,
  invalidType,
  keysOf,
  numberIn,
  oneOf,
  optionPath,
  rejectUnknownKeys,
  requireObject,
} from '../options.js'

export type BalancerName = 'round-robin' | 'random' | 'least-request' | 'peak-ewma' | 'consistent-hash'
export const BALANCER_NAMES: ReadonlyArray<BalancerName> = [
  'round-robin',
  'random',
  'least-request',
  'peak-ewma',
  'consistent-hash',
]

/** Asks one endpoint which role it has now (e.g. `SELECT pg_is_in_recovery()`). */
export type PrimaryProbe = (endpoint: Endpoint, signal: AbortSignal) => Promise<'primary' | 'replica'>

/**
 * How the pool tells the primary from the replicas:
 * - `{ ordinal: 0 }`: the StatefulSet pod with that ordinal (`db-0`) is the primary;
 * - `{ name: 'db-0' }`: the pod with that name is;
 * - `{ probe, interval, timeout }`: ask every endpoint, every `interval` ms and right after a failed
 *   lease on the primary (for clusters whose primary moves on failover).
 */
export type PrimaryOptions =
  | { ordinal: number }
  | { name: string }
  | {
      probe: PrimaryProbe
      /** Milliseconds between probe rounds. Default 5_000. */
      interval?: number
      /** Milliseconds before one probe counts as failed (role unknown). Default 2_000. */
      timeout?: number
    }

export interface EwmaOptions {
  /** Time constant of the latency average's decay, ms. Default 10_000 (Finagle, Linkerd). */
  decay?: number
  /** Latency a failed lease counts as, at least, so fast failures do not look fast. Default 1_000 ms. */
  failurePenalty?: number
}

/** The pool's own options: everything but discovery. */
export interface BalancingOptions {
  /** Default `peak-ewma` (docs/balancing.md says why, with the figures). */
  balancer?: BalancerName
  /** Active health checks. Default none. */
  healthCheck?: HealthCheckOptions | HealthCheckFunction
  /** Passive ejection of failing endpoints. On by default; `false` turns it off. */
  outlierDetection?: OutlierDetectionOptions | false
  /**
   * No new requests for an endpoint that sits on waiting requests far longer than its peers take
   * to answer (every balancer). On by default; `false` turns it off.
   */
  stallDetection?: StallDetectionOptions | false
  /** Primary/replica roles. Default none: every endpoint has role `unknown` and serves only `role: 'any'`. */
  primary?: PrimaryOptions
  /**
   * When the share of healthy endpoints falls below this (0..1), route across all endpoints, as
   * Envoy does, and emit `panic`. 0 turns panic mode off. Default 0.5 (Envoy's 50%).
   */
  panicThreshold?: number
  /** Ramp for endpoints added after the first resolution: a window in ms or `{ window, minShare }`. Default off. */
  slowStart?: SlowStartOptions | number
  /** Latency tracking for peak-EWMA and `nearest`. */
  ewma?: EwmaOptions
  /**
   * `readPreference: 'nearest'` chooses among the endpoints whose EWMA latency is within this
   * many ms of the lowest (MongoDB's `localThresholdMS`), by in-flight count. 0 keeps only the
   * lowest (and endpoints with no latency yet). Default 15.
   */
  nearestThreshold?: number
  /**
   * Where the pool's metrics go (docs/observability.md). Default: the MeterProvider the
   * application registered with `@opentelemetry/api` (the OTel Node SDK does), if any; without
   * one nothing is recorded. `false`: no metrics even with a global provider.
   */
  meterProvider?: MeterProviderLike | false
}

/** Every key of {@link BalancingOptions} (checked complete by the compiler). */
export const BALANCING_OPTION_KEYS: ReadonlyArray<keyof BalancingOptions> = keysOf<BalancingOptions>({
  balancer: true,
  healthCheck: true,
  outlierDetection: true,
  stallDetection: true,
  primary: true,
  panicThreshold: true,
  slowStart: true,
  ewma: true,
  nearestThreshold: true,
  meterProvider: true,
})

export type ResolvedPrimary =
  | { readonly kind: 'none' }
  | { readonly kind: 'ordinal'; readonly ordinal: number }
  | { readonly kind: 'name'; readonly name: string }
  | {
      readonly kind: 'probe'
      readonly probe: PrimaryProbe
      readonly interval: number
      readonly timeout: number
    }

export interface ResolvedBalancingOptions {
  readonly balancer: BalancerName
  readonly healthCheck: ResolvedHealthCheck | undefined
  readonly outlierDetection: ResolvedOutlierDetection
  readonly stallDetection: ResolvedStallDetection
  readonly primary: ResolvedPrimary
  readonly panicThreshold: number
  readonly slowStart: ResolvedSlowStart
  readonly ewmaDecay: number
  readonly ewmaFailurePenalty: number
  readonly nearestThreshold: number
  readonly meterProvider: MeterProviderLike | false | undefined
}

/** Validates the balancing half of the pool's options (unknown keys are checked by the caller). */
export function resolveBalancingOptions(
  options: Record<string, unknown>,
  path = '',
): ResolvedBalancingOptions {
  const at = (key: string) => optionPath(path, key)
  const ewma = options.ewma === undefined ? {} : requireObject(at('ewma'), options.ewma)
  rejectUnknownKeys(at('ewma'), ewma, keysOf<EwmaOptions>({ decay: true, failurePenalty: true }))
  return {
    balancer: oneOf(at('balancer'), options.balancer, BALANCER_NAMES, 'peak-ewma'),
    healthCheck: resolveHealthCheck(options.healthCheck, path),
    outlierDetection: resolveOutlierDetection(options.outlierDetection, path),
    stallDetection: resolveStallDetection(options.stallDetection, path),
    primary: resolvePrimary(options.primary, path),
    panicThreshold: numberIn(at('panicThreshold'), options.panicThreshold, 0.5, 0, 1),
    slowStart: resolveSlowStart(options.slowStart, path),
    ewmaDecay: durationMs(at('ewma.decay'), ewma.decay, 10_000, 1),
    ewmaFailurePenalty: durationMs(at('ewma.failurePenalty'), ewma.failurePenalty, 1_000),
    nearestThreshold: durationMs(at('nearestThreshold'), options.nearestThreshold, 15),
    meterProvider: meterProviderOption(at('meterProvider'), options.meterProvider),
  }
}

function resolvePrimary(value: unknown, parent: string): ResolvedPrimary {
  if (value === undefined) return { kind: 'none' }
  const path = optionPath(parent, 'primary')
  const options = requireObject(path, value)
  const kinds = ['ordinal', 'name', 'probe'].filter((k) => options[k] !== undefined)
  if (kinds.length !== 1) {
    throw invalidType(path, 'one of { ordinal }, { name } or { probe, interval, timeout }', value)
  }
  if (kinds[0] === 'ordinal') {
    rejectUnknownKeys(path, options, ['ordinal'])
    const ordinal = options.ordinal
    if (typeof ordinal !== 'number' || !Number.isSafeInteger(ordinal) || ordinal < 0) {
      throw invalidType(`${path}.ordinal`, 'a StatefulSet ordinal (an integer >= 0)', ordinal)
    }
    return { kind: 'ordinal', ordinal }
  }
  if (kinds[0] === 'name') {
    rejectUnknownKeys(path, options, ['name'])
    // Matched against Endpoint.name, the first label of the pod's DNS name, which discovery
    // lower-cases: a full hostname or another case would never match.
    if (
      typeof options.name !== 'string' ||
      options.name.includes('.') ||
      invalidServiceNameReason(options.name) !== undefined
    ) {
      throw invalidType(`${path}.name`, 'a pod name (one DNS label, such as "db-0")', options.name)
    }
    return { kind: 'name', name: options.name.toLowerCase() }
  }
  rejectUnknownKeys(path, options, ['probe', 'interval', 'timeout'])
  if (typeof options.probe !== 'function') throw invalidType(`${path}.probe`, 'a function', options.probe)
  const interval = durationMs(`${path}.interval`, options.interval, 5_000, 1)
  return {
    kind: 'probe',
    probe: options.probe as PrimaryProbe,
    interval,
    timeout: durationMs(`${path}.timeout`, options.timeout, Math.min(2_000, interval), 1),
  }
}
