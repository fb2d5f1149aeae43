import type {
  AttemptEndEvent,
  BalancedDispatcherEvents,
  HedgeEvent,
  RetryEvent,
} from '../http/request-events.js'
import { VERSION } from '../version.js'
import { endpointLabel } from './endpoint-label.js'
import {
  type BatchCallback,
  METER_NAME,
  type MeterProviderLike,
  type MetricAttributes,
} from './meter-provider.js'

/** The semantic conventions' known methods; any other is reported as `_OTHER` (bounded cardinality). */
const KNOWN_METHODS = new Set([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
])

/** The semantic conventions' advice for `http.client.request.duration`, seconds. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]

/**
 * What the metrics read of a BalancedDispatcher (an interface, so that the dispatcher, which
 * starts the recording, and this file do not import each other).
 */
export interface MeteredDispatcher {
  readonly service: string
  readonly hostname: string
  stats(): { readonly retriesDenied: number }
  on<E extends keyof BalancedDispatcherEvents>(
    event: E,
    listener: (...args: BalancedDispatcherEvents[E]) => void,
  ): unknown
  off<E extends keyof BalancedDispatcherEvents>(
    event: E,
    listener: (...args: BalancedDispatcherEvents[E]) => void,
  ): unknown
}

/**
 * Records a balanced dispatcher's HTTP metrics through `provider`: one histogram sample per
 * attempt (from `attempt-end`), retries (from `retry`), and budget denials read at collection
 * time. `port` is the logical origin's port (`server.port`). Returns the function that stops it.
 */
export function recordHttpMetrics(
  dispatcher: MeteredDispatcher,
  provider: MeterProviderLike,
  port: number,
): () => void {
  const meter = provider.getMeter(METER_NAME, VERSION)
  const duration = meter.createHistogram('http.client.request.duration', {
    description: 'Duration of HTTP client requests (each attempt on an endpoint), to the response headers',
    unit: 's',
    advice: { explicitBucketBoundaries: DURATION_BUCKETS },
  })
  const retries = meter.createCounter('headless_lb.retries', {
    description: 'Retries on another endpoint, by the failure that caused them',
    unit: '{retry}',
  })
  const denied = meter.createObservableCounter('headless_lb.retries.denied', {
    description: 'Retries not made because the retry budget was spent',
    unit: '{retry}',
  })
  const hedges = meter.createCounter('headless_lb.hedges', {
    description: 'Hedged attempts: a request without an answer also sent to another endpoint',
    unit: '{hedge}',
  })
  const service = dispatcher.service
  const address = dispatcher.hostname
  const base = { 'headless_lb.service': service }

  const onAttemptEnd = (event: AttemptEndEvent): void => {
    const attributes: MetricAttributes = {
      'http.request.method': KNOWN_METHODS.has(event.method) ? event.method : '_OTHER',
      'server.address': address,
      'server.port': port,
      'headless_lb.endpoint': endpointLabel(event.endpoint),
    }
    if (event.statusCode > 0) attributes['http.response.status_code'] = event.statusCode
    const errorType = errorTypeOf(event)
    if (errorType !== undefined) attributes['error.type'] = errorType
    duration.record(event.latency / 1000, attributes)
  }
  const onRetry = (event: RetryEvent): void => {
    retries.add(1, { ...base, 'headless_lb.failure.kind': event.kind })
  }
  const onHedge = (_event: HedgeEvent): void => {
    hedges.add(1, base)
  }
  const observe: BatchCallback = (result) => {
    result.observe(denied, dispatcher.stats().retriesDenied, base)
  }
  dispatcher.on('attempt-end', onAttemptEnd)
  dispatcher.on('retry', onRetry)
  dispatcher.on('hedge', onHedge)
  meter.addBatchObservableCallback(observe, [denied])
  return () => {
    dispatcher.off('attempt-end', onAttemptEnd)
    dispatcher.off('retry', onRetry)
    dispatcher.off('hedge', onHedge)
    meter.removeBatchObservableCallback(observe, [denied])
  }
}

/**
 * `error.type` as the semantic conventions define it for clients: the status code for a 4xx or
 * 5xx response; for a failure without one, the error's code (`ECONNREFUSED`,
 * `UND_ERR_HEADERS_TIMEOUT`), else the failure kind. Absent for a success.
 */
function errorTypeOf(event: AttemptEndEvent): string | undefined {
  if (event.statusCode >= 400) return String(event.statusCode)
  if (event.outcome === 'ok') return undefined
  const code = (event.error as { code?: unknown } | null | undefined)?.code
  return typeof code === 'string' ? code : event.outcome
}
