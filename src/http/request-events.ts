import type { Endpoint } from '../endpoint.js'
import type { FailureKind } from '../lease.js'

/** Payload of the `attempt` event: one try of a request, on one endpoint. */
export interface AttemptEvent {
  readonly service: string
  readonly endpoint: Endpoint
  /** 1 for the first try, 2 for the first retry... */
  readonly attempt: number
  readonly method: string
  readonly path: string
}

/**
 * Payload of the `retry` event: an attempt failed and the request goes on to another endpoint.
 * That endpoint is picked after the backoff; the next `attempt` event names it.
 */
export interface RetryEvent {
  readonly service: string
  /** Where the failed attempt went. */
  readonly endpoint: Endpoint
  readonly attempt: number
  readonly kind: FailureKind
  readonly error?: unknown
  readonly statusCode?: number
  /** `Retry-After` asked for, ms (0 when absent). The backoff comes on top. */
  readonly retryAfter: number
}

/**
 * Payload of the `attempt-end` event: one attempt is over, and whether the request goes on to
 * another endpoint is decided. Emitted once per attempt, after the pool has the outcome.
 */
export interface AttemptEndEvent {
  readonly service: string
  readonly endpoint: Endpoint
  /** As in its `attempt` event. */
  readonly attempt: number
  readonly method: string
  readonly path: string
  /**
   * `ok`, or the failure the pool was told of: `status` (a 5xx), `connect-refused`,
   * `connect-timeout`, `timeout`, `reset`, `other`, or `cancelled` (the caller aborted, or the
   * attempt was abandoned: no evidence about the endpoint).
   */
  readonly outcome: 'ok' | FailureKind
  /** The response's status; 0 when no response came. */
  readonly statusCode: number
  /** Ms from the attempt's start to its response headers, or to its failure (what the pool's EWMA sees). */
  readonly latency: number
  /**
   * A retry on another endpoint was decided (a `retry` event follows). It may still not happen:
   * the budget can be spent during the backoff, or no endpoint be left.
   */
  readonly willRetry: boolean
  /** The error, when the attempt failed without a response (or its body broke). */
  readonly error?: unknown
}

/**
 * Payload of the `hedge` event: a request had no answer after `delay` ms, and the same request now
 * also goes to `endpoint` (its `attempt` event follows). The attempts in `outstanding` stay in
 * flight: the first to answer wins, the others are cancelled.
 */
export interface HedgeEvent {
  readonly service: string
  /** Where the hedge goes. */
  readonly endpoint: Endpoint
  /** The hedge's attempt number (2 for the first hedge). */
  readonly attempt: number
  /** How long the request waited for an answer before this hedge, ms. */
  readonly delay: number
  /** The attempts still waited on, by where they went. */
  readonly outstanding: ReadonlyArray<Endpoint>
}

/**
 * How a request reaches its dispatcher's listeners: each emitter is null while nobody listens to
 * its event (the dispatcher keeps them up to date), so the request path builds no payload then.
 */
export interface RequestEvents {
  readonly attempt: ((event: AttemptEvent) => void) | null
  readonly attemptEnd: ((event: AttemptEndEvent) => void) | null
  readonly retry: ((event: RetryEvent) => void) | null
  readonly hedge: ((event: HedgeEvent) => void) | null
}

/**
 * The events of a BalancedDispatcher (and of `HeadlessClient#on`), as listener arguments.
 * The dispatcher emits these besides undici's own (`connect`, `disconnect`, `connectionError`,
 * `drain`), whose types undici's `Dispatcher` declares.
 */
export interface BalancedDispatcherEvents {
  attempt: [event: AttemptEvent]
  'attempt-end': [event: AttemptEndEvent]
  retry: [event: RetryEvent]
  hedge: [event: HedgeEvent]
}

/**
 * The RequestEvents of `emitter` (a BalancedDispatcher): each emitter is set while its event has
 * a listener, kept up to date through `newListener` (emitted before a listener is added) and
 * `removeListener` (after one is gone).
 */
export function requestEvents(emitter: NodeJS.EventEmitter): RequestEvents {
  const events: { -readonly [K in keyof RequestEvents]: RequestEvents[K] } = {
    attempt: null,
    attemptEnd: null,
    retry: null,
    hedge: null,
  }
  const emitters = {
    attempt: (event: AttemptEvent) => emitter.emit('attempt', event),
    'attempt-end': (event: AttemptEndEvent) => emitter.emit('attempt-end', event),
    retry: (event: RetryEvent) => emitter.emit('retry', event),
    hedge: (event: HedgeEvent) => emitter.emit('hedge', event),
  }
  const keyOf = { attempt: 'attempt', 'attempt-end': 'attemptEnd', retry: 'retry', hedge: 'hedge' } as const
  const track = (event: string | symbol, listening: boolean) => {
    if (typeof event !== 'string' || !Object.hasOwn(keyOf, event)) return
    const name = event as keyof typeof keyOf
    ;(events as Record<string, unknown>)[keyOf[name]] = listening ? emitters[name] : null
  }
  emitter.on('newListener', (event: string | symbol) => track(event, true))
  emitter.on('removeListener', (event: string | symbol) => track(event, emitter.listenerCount(event) > 0))
  return events
}
