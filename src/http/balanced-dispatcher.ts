import { debuglog } from 'node:util'
import { Dispatcher, Dispatcher1Wrapper } from 'undici'
import type { Endpoint, EndpointChange } from '../endpoint.js'
import { DeadlineExceededError, DestroyedError } from '../errors.js'
import { type Clock, systemClock } from '../internal/clock.js'
import { schemePort } from '../internal/default-port.js'
import { recordHttpMetrics } from '../metrics/http-metrics.js'
import { chooseMeterProvider } from '../metrics/meter-provider.js'
import { invalidType } from '../options.js'
import { BalancedRequest } from './balanced-request.js'
import type { ResolvedHttpOptions, RouteOptions } from './client-options.js'
import { EndpointDispatchers } from './endpoint-dispatchers.js'
import { HedgePolicy } from './hedge-policy.js'
import { HedgeTimers } from './hedge-timers.js'
import { HttpCounters } from './http-counters.js'
import { InFlightRequests } from './in-flight-requests.js'
import type { LeasePool } from './lease-pool.js'
import { pickForRequest } from './pick-for-method.js'
import type { RequestContext } from './request-context.js'
import { type BalancedDispatcherEvents, requestEvents } from './request-events.js'
import { RetryBudget } from './retry-budget.js'
import { RetryPolicy } from './retry-policy.js'
import { watchRotationExits } from './rotation-exits.js'

const debug = debuglog('headless-lb')

export type {
  AttemptEndEvent,
  AttemptEvent,
  BalancedDispatcherEvents,
  HedgeEvent,
  RetryEvent,
} from './request-events.js'

/** Counters of the HTTP layer for one service, since creation. */
export interface HttpStats {
  readonly service: string
  /** Requests dispatched (first attempts). */
  readonly requests: number
  /** Attempts sent to an endpoint (first attempts and retries). */
  readonly attempts: number
  readonly retries: number
  /** Retries not made because the retry budget was spent. */
  readonly retriesDenied: number
  /** Requests that ended with an error (not counting responses with an error status). */
  readonly failures: number
  /** Hedges sent (attempts beyond the first made while the earlier ones were still in flight; counted in `attempts` too). */
  readonly hedges: number
  /** Requests answered by a hedge rather than by their first attempt. */
  readonly hedgesWon: number
  /** Hedges not sent because the retry budget was spent. */
  readonly hedgesDenied: number
  /**
   * Attempts taken back before they were written, because their endpoint left rotation while
   * they waited for a connection there, and sent to another endpoint (not retries: see docs/http.md).
   */
  readonly attemptsMoved: number
  /** Endpoint ids with a live connection pool, and pools still draining after their endpoint left. */
  readonly pools: ReadonlyArray<string>
  readonly draining: number
}

export interface BalancedDispatcherOptions {
  readonly pool: LeasePool
  /** Closes what the dispatcher owns besides its connections (a pool it was made with); none for a pool given by the caller. */
  readonly closePool?: () => Promise<void>
  readonly protocol: 'http:' | 'https:'
  /** The logical origin, `protocol//host[:port]`: the Host header is its host. */
  readonly origin: string
  /** Logical host name: the TLS servername (unless `tls.servername`). */
  readonly hostname: string
  readonly http: ResolvedHttpOptions
  /** @internal The clock of the retry budget, backoffs and latencies (tests); the system's by default. */
  readonly clock?: Clock
}

const ALLOW_EMPTY = Object.freeze({ allowEmpty: true })

/**
 * An undici Dispatcher that sends each request of one service to an endpoint the pool picks
 * (one lease per attempt), over one keep-alive undici Pool per endpoint, and retries safely on
 * another endpoint. Because it is a Dispatcher, `undici.request`, `undici.fetch`,
 * `setGlobalDispatcher` and `Dispatcher#compose` work with it unchanged.
 *
 * Events: `attempt` (AttemptEvent), `attempt-end` (AttemptEndEvent), `retry` (RetryEvent),
 * `hedge` (HedgeEvent).
 */
export class BalancedDispatcher extends Dispatcher {
  readonly pool: LeasePool
  readonly service: string
  /** @internal The resolved HTTP options (the request path reads them). */
  readonly options: ResolvedHttpOptions
  readonly hostname: string
  /** TLS servername for https origins (`tls.servername`, else the host name); undefined for http. */
  readonly servername: string | undefined
  /** The logical origin (`http://web.test:8080`): requests for any other origin are refused. */
  readonly #origin: string
  readonly #closePool: (() => Promise<void>) | undefined
  readonly #onChange: (change: EndpointChange) => void
  readonly #stopWatchingRotation: () => void
  readonly #connections: EndpointDispatchers
  readonly #counters = new HttpCounters()
  readonly #requests = new InFlightRequests()
  /** What each request is handed instead of this dispatcher (see RequestContext). */
  readonly #context: RequestContext
  #ready = false
  #readyPromise: Promise<void> | null = null
  #closing: Promise<void> | null = null
  /** Stops recording metrics (set when a MeterProvider was given or registered globally). */
  readonly #stopMetrics: (() => void) | undefined
  #destroying: Promise<void> | null = null
  readonly #hedgeTimers: HedgeTimers | null

  /** @internal Use `createClient` or `HeadlessAgent`. */
  constructor(options: BalancedDispatcherOptions) {
    super()
    this.pool = options.pool
    this.service = options.pool.service
    this.options = options.http
    this.hostname = options.hostname
    this.servername =
      options.protocol === 'https:' ? (options.http.tls?.servername ?? options.hostname) : undefined
    // The caller's string if it is the origin already: requests' origins then match by identity.
    const origin = new URL(options.origin).origin
    this.#origin = origin === options.origin ? options.origin : origin
    this.#closePool = options.closePool
    const clock = options.clock ?? systemClock
    // The budget reads the requests' clock, so that a request's one reading serves both.
    const budget =
      options.http.budget === false ? null : new RetryBudget(options.http.budget, () => clock.now())
    const hedge = options.http.hedge === false ? null : new HedgePolicy(options.http.hedge, clock.now())
    this.#hedgeTimers = hedge === null ? null : new HedgeTimers()
    this.#connections = new EndpointDispatchers({
      origin: options.origin,
      servername: this.servername ?? options.hostname,
      connections: options.http.connections,
      pipelining: options.http.pipelining,
      connectTimeout: options.http.connectTimeout,
      headersTimeout: options.http.headersTimeout,
      bodyTimeout: options.http.bodyTimeout,
      keepAliveTimeout: options.http.keepAliveTimeout,
      allowH2: options.http.allowH2,
      useH2c: options.http.h2c && options.protocol === 'http:',
      tls: options.http.tls,
    })
    this.#context = {
      service: this.service,
      pool: this.pool,
      connections: this.#connections,
      policy: new RetryPolicy(options.http),
      budget,
      hedge,
      hedgeTimers: this.#hedgeTimers,
      clock,
      systemTime: clock === systemClock,
      counters: this.#counters,
      // Dispatcher types its events as undici's (connect, drain...); these are Node's own.
      events: requestEvents(this as NodeJS.EventEmitter),
      inFlight: this.#requests,
      route: (method, route, key) =>
        pickForRequest(method, route, key, options.http.routeByMethod, options.http.readPreference),
      whenReady: (signal) => this.#whenReady(signal),
    }
    this.#onChange = (change) => {
      debug(
        '%s: endpoints +%d -%d ~%d',
        this.service,
        change.added.length,
        change.removed.length,
        change.updated.length,
      )
      this.#connections.apply(change)
    }
    this.pool.on('change', this.#onChange)
    // An endpoint out of rotation: its connections are retired once the pool is done with the
    // event (an ejection is decided inside a lease's release), before undici writes anything more.
    this.#stopWatchingRotation = watchRotationExits(this.pool, (endpoint, how) =>
      queueMicrotask(() => this.#retire(endpoint, how)),
    )
    const provider = chooseMeterProvider(options.http.meterProvider)
    const url = new URL(options.origin)
    const port = url.port === '' ? schemePort(options.protocol) : Number(url.port)
    this.#stopMetrics = provider === undefined ? undefined : recordHttpMetrics(this, provider, port)
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    // Handlers written for undici 6 and Node's bundled undici (onConnect/onHeaders...) get wrapped.
    const h =
      typeof handler.onRequestStart === 'function'
        ? handler
        : (
            Dispatcher1Wrapper as unknown as { wrapHandler(h: unknown): Dispatcher.DispatchHandler }
          ).wrapHandler(handler)
    const origin = options.origin
    if (origin !== undefined && origin !== this.#origin && !this.#isOwnOrigin(origin)) {
      // Every request here goes to this service's pods, whatever its URL: one for another host
      // (this dispatcher made global, a redirect) would reach them with its credentials.
      h.onResponseError?.(
        null as never,
        invalidType(
          'origin',
          `${this.#origin} (the origin of ${this.service}'s dispatcher)`,
          String(typeof origin === 'string' ? origin : origin.origin),
          'Use HeadlessAgent to balance some hosts and pass others through',
        ),
      )
      return false
    }
    const path = options.path
    if (typeof path !== 'string' || path.charCodeAt(0) !== 0x2f) {
      // undici sends an absolute URL as an absolute-form target (meant for proxies): the pod would
      // get `GET http://169.254.169.254/x`, whatever host that names. fetch refuses it by origin.
      h.onResponseError?.(
        null as never,
        invalidType(
          'path',
          'a path starting with "/"',
          path,
          `Requests go to ${this.#origin}; use HeadlessAgent (or undici) for other URLs`,
        ),
      )
      return false
    }
    let request: BalancedRequest
    try {
      request = new BalancedRequest(this.#context, options as Dispatcher.DispatchOptions & RouteOptions, h)
    } catch (error) {
      // Invalid request options (a route or key): the request fails, as undici's own dispatchers do.
      h.onResponseError?.(null as never, error as Error)
      return false
    }
    request.start()
    return true
  }

  /**
   * undici's request() throws the bare abort reason (a DOMException) for a signal aborted before
   * the call, while an abort in flight ends in DeadlineExceededError: both end the same way here.
   */
  override request<TOpaque = null>(
    options: Dispatcher.RequestOptions<TOpaque>,
    callback: (err: Error | null, data: Dispatcher.ResponseData<TOpaque>) => void,
  ): void
  override request<TOpaque = null>(
    options: Dispatcher.RequestOptions<TOpaque>,
  ): Promise<Dispatcher.ResponseData<TOpaque>>
  override request<TOpaque = null>(
    options: Dispatcher.RequestOptions<TOpaque>,
    callback?: (err: Error | null, data: Dispatcher.ResponseData<TOpaque>) => void,
  ): Promise<Dispatcher.ResponseData<TOpaque>> | undefined {
    const signal = (options as { signal?: unknown } | null)?.signal
    if (signal instanceof AbortSignal && signal.aborted) {
      const error = new DeadlineExceededError(this.service, [], signal.reason)
      if (callback === undefined) return Promise.reject(error)
      queueMicrotask(() => callback(error, null as never))
      return undefined
    }
    if (callback === undefined) return super.request(options)
    super.request(options, callback)
    return undefined
  }

  #isOwnOrigin(origin: string | URL): boolean {
    try {
      return (typeof origin === 'string' ? new URL(origin) : origin).origin === this.#origin
    } catch {
      return false
    }
  }

  /** Null when the pool is ready; otherwise a promise that settles when it is (or fails). */
  #whenReady(signal: AbortSignal | undefined): Promise<void> | null {
    if (this.#ready) return null
    if (signal === undefined) {
      // allowEmpty: a service with no ready pods fails its requests at once (NoEndpointsError)
      // rather than holding each one for the ready timeout.
      this.#readyPromise ??= this.pool.ready(ALLOW_EMPTY).then(
        () => {
          this.#ready = true
        },
        (error: unknown) => {
          this.#readyPromise = null
          throw error
        },
      )
      return this.#readyPromise
    }
    return this.pool.ready({ signal, allowEmpty: true }).then(() => {
      this.#ready = true
    })
  }

  get closed(): boolean {
    return this.#requests.closed
  }

  /**
   * The endpoint left rotation: a fresh connection pool for its next request, the old one closed
   * (idle connections now, busy ones as their requests end), and every attempt still queued there
   * unwritten sent elsewhere first (move-off.ts). A stalled endpoint only when requests were
   * written there (stuck on live sockets) and it has idle connections or queued requests.
   */
  #retire(endpoint: Endpoint, how: 'stalled' | 'out'): void {
    if (this.#requests.closed) return
    const id = endpoint.id
    if (how === 'stalled') {
      const { running, free, pending } = this.#connections.load(id)
      // A stall with nothing written there is one of connects that do not complete (a black hole
      // without live sockets): left alone, they fail at timeouts.connect, are retried at once,
      // and count as the pod's connect timeouts, which eject it (then everything is retired).
      // Taken back, they would hide the pod's failure, and it would never leave rotation.
      if (running === 0) return
      // Every connection busy and nothing queued: retiring would only churn connections (those
      // stuck on a black hole are destroyed when their requests are aborted anyway).
      if (free === 0 && pending === 0) return
    }
    const retired = this.#connections.retire(id, () => this.#requests.moveOff(id))
    if (retired) debug('%s: %s left rotation: its connections are retired', this.service, id)
  }

  /** @internal Attempts that lost a hedge race and may still answer: close() and destroy() abort them. */
  get lingering(): ReadonlySet<{ stopLingering(): void }> {
    return this.#requests.lingering
  }

  /** @internal Where requests wait for their hedge (one timer for all); null without hedging. */
  get hedgeTimers(): { readonly size: number; readonly armed: boolean } | null {
    return this.#hedgeTimers
  }

  /** No request unfinished (none waiting, in flight or streaming a body). */
  get idle(): boolean {
    return this.#requests.idle
  }

  override on<E extends keyof BalancedDispatcherEvents>(
    event: E,
    listener: (...args: BalancedDispatcherEvents[E]) => void,
  ): this
  override on(
    event: 'connect' | 'disconnect' | 'connectionError' | 'drain',
    listener: (...args: never[]) => void,
  ): this
  override on(event: string, listener: (...args: never[]) => void): this {
    // undici's Dispatcher types name only its own events; Node's EventEmitter takes any.
    return super.on(event as 'drain', listener as never)
  }

  override once<E extends keyof BalancedDispatcherEvents>(
    event: E,
    listener: (...args: BalancedDispatcherEvents[E]) => void,
  ): this
  override once(
    event: 'connect' | 'disconnect' | 'connectionError' | 'drain',
    listener: (...args: never[]) => void,
  ): this
  override once(event: string, listener: (...args: never[]) => void): this {
    return super.once(event as 'drain', listener as never)
  }

  override off<E extends keyof BalancedDispatcherEvents>(
    event: E,
    listener: (...args: BalancedDispatcherEvents[E]) => void,
  ): this
  override off(
    event: 'connect' | 'disconnect' | 'connectionError' | 'drain',
    listener: (...args: never[]) => void,
  ): this
  override off(event: string, listener: (...args: never[]) => void): this {
    return super.off(event as 'drain', listener as never)
  }

  stats(): HttpStats {
    const { pools, draining } = this.#connections.stats()
    const c = this.#counters
    return {
      service: this.service,
      requests: c.requests,
      attempts: c.attempts,
      retries: c.retries,
      retriesDenied: c.retriesDenied,
      failures: c.failures,
      hedges: c.hedges,
      hedgesWon: c.hedgesWon,
      hedgesDenied: c.hedgesDenied,
      attemptsMoved: c.attemptsMoved,
      pools,
      draining,
    }
  }

  /** Takes no new request; in-flight requests finish; then every connection (and an owned pool) is closed. */
  override close(): Promise<void>
  override close(callback: () => void): void
  override close(callback?: () => void): Promise<void> | undefined {
    this.#closing ??= this.#shutdown(async () => {
      await this.#requests.allAnswered()
      this.#requests.stopLingering()
      await this.#connections.close()
    })
    if (callback === undefined) return this.#closing
    this.#closing.then(callback, callback)
    return undefined
  }

  /**
   * Like close, but nothing waits: every unfinished request (waiting for the pool, in flight, in
   * its retry backoff, or streaming its response body) ends at once with `error`, or with
   * DestroyedError; then every connection (and an owned pool) is closed. Idempotent; a close()
   * in progress resolves with it, and close() afterwards returns the same promise.
   */
  override destroy(): Promise<void>
  override destroy(error: Error | null): Promise<void>
  override destroy(callback: () => void): void
  override destroy(error: Error | null, callback: () => void): void
  override destroy(
    errorOrCallback?: Error | null | (() => void),
    callback?: () => void,
  ): Promise<void> | undefined {
    const given = typeof errorOrCallback === 'function' ? undefined : (errorOrCallback ?? undefined)
    const cb = typeof errorOrCallback === 'function' ? errorOrCallback : callback
    if (this.#destroying === null) {
      const error = given ?? new DestroyedError('HTTP client', this.service)
      this.#destroying = this.#shutdown(() => {
        this.#requests.destroyAll(error)
        this.#requests.stopLingering()
        return this.#connections.destroy(error)
      })
      this.#closing ??= this.#destroying
    }
    const destroyed = this.#destroying
    if (cb === undefined) return destroyed
    destroyed.then(cb, cb)
    return undefined
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  async #shutdown(closeEndpoints: () => Promise<void>): Promise<void> {
    this.#requests.closed = true
    this.pool.off('change', this.#onChange)
    this.#stopWatchingRotation()
    this.#stopMetrics?.()
    // Hedge timers after the endpoints: a request in flight while close() waits may yet be hedged.
    await closeEndpoints().finally(() => this.#hedgeTimers?.close())
    await this.#closePool?.()
  }
}
