import type { Dispatcher } from 'undici'
import type { Endpoint } from '../endpoint.js'
import type { Clock } from '../internal/clock.js'
import type { PickOptions } from '../lease.js'
import type { RouteOptions } from './client-options.js'
import type { HedgePolicy } from './hedge-policy.js'
import type { HedgeTimers } from './hedge-timers.js'
import type { HttpCounters } from './http-counters.js'
import type { LeasePool } from './lease-pool.js'
import type { RequestEvents } from './request-events.js'
import type { RetryBudget } from './retry-budget.js'
import type { RetryPolicy } from './retry-policy.js'

/** The connection pools of the endpoints, one undici Pool each (EndpointDispatchers). */
export interface ConnectionPools {
  /** The endpoint's Pool, made on first use. */
  get(endpoint: Endpoint): Dispatcher
  /** Closed or destroyed: no new attempt may go out (no Pool is made after the others were closed). */
  readonly closed: boolean
}

/**
 * A request that has started and not finished, in its dispatcher's intrusive list (linking
 * allocates nothing): `destroy()` walks the list to end each one.
 */
export interface LiveRequest {
  livePrev: LiveRequest | null
  liveNext: LiveRequest | null
  live: boolean
  /** Ends the request at once with `error`, wherever it is. */
  destroy(error: Error): void
  /** `endpointId` left rotation: attempts still queued there move elsewhere; false if one could not. */
  moveOff(endpointId: string): boolean
}

/** What the dispatcher keeps of its requests: close() waits for the unanswered ones, destroy() ends the live ones. */
export interface InFlight {
  /** The dispatcher was closed (or destroyed): a request that has not made its first attempt fails. */
  readonly closed: boolean
  /** A request started: destroy() must reach it until it finishes. */
  link(request: LiveRequest): void
  /** A linked request finished (answered and its body read, or failed). */
  unlink(request: LiveRequest): void
  /** A request made its first attempt. */
  enter(): void
  /** A request that entered got its answer (a response, or its final error). */
  leave(): void
  /** Attempts that lost a hedge race and may still answer: close() and destroy() abort them. */
  readonly lingering: Set<{ stopLingering(): void }>
}

/**
 * Everything a BalancedRequest uses, handed to it by its dispatcher instead of the dispatcher
 * itself (undici's RetryHandler gets `dispatch` and a handler the same way, and holds no owner).
 * One per dispatcher, made once: the request path reads its fields.
 */
export interface RequestContext {
  readonly service: string
  readonly pool: LeasePool
  readonly connections: ConnectionPools
  readonly policy: RetryPolicy
  /** The retry budget; null for `retry.budget: false`. */
  readonly budget: RetryBudget | null
  /** When requests are hedged; null when they are not. */
  readonly hedge: HedgePolicy | null
  /** Where requests wait for their hedge (one timer for all); null when they are not hedged. */
  readonly hedgeTimers: HedgeTimers | null
  readonly clock: Clock
  /**
   * `clock` is the system clock: the request path then calls performance.now() itself. A double
   * returned by a call V8 does not inline (the Clock interface's now()) is boxed, 16 bytes a read.
   */
  readonly systemTime: boolean
  readonly counters: HttpCounters
  readonly events: RequestEvents
  readonly inFlight: InFlight
  /** The pick options for a request: `route` wins, then the method when routing by method. Throws on a bad route or key. */
  route(method: string, route: RouteOptions['route'], key: string | undefined): PickOptions
  /** Null when the pool is ready; otherwise a promise that settles when it is (or fails). */
  whenReady(signal: AbortSignal | undefined): Promise<void> | null
}
