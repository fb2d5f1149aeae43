import { performance } from 'node:perf_hooks'
import { debuglog } from 'node:util'
import { Dispatcher, Dispatcher1Wrapper } from 'undici'
import type { Endpoint, EndpointChange } from '../endpoint.js'
import { DeadlineExceededError, DestroyedError } from '../errors.js'
import type { FailureKind, PickOptions, ReadPreference } from '../lease.js'
import { recordHttpMetrics } from '../metrics/http-metrics.js'
import { chooseMeterProvider } from '../metrics/meter-provider.js'
import { invalidType, oneOf } from '../options.js'
import { BalancedRequest } from './balanced-request.js'
import { READ_METHODS, type ResolvedHttpOptions, ROUTES, type RouteOptions } from './client-options.js'
import { EndpointDispatchers } from './endpoint-dispatchers.js'
import { HedgePolicy } from './hedge-policy.js'
import type { LeasePool } from './lease-pool.js'
import { RetryBudget } from './retry-budget.js'
import { watchRotationExits } from './rotation-exits.js'

const debug = debuglog('headless-lb')

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
  /** Clock for the retry budget (tests). */
  readonly now?: () => number
}

const ALLOW_EMPTY = Object.freeze({ allowEmpty: true })
const PICK_ANY: PickOptions = Object.freeze({})
const PICK_PRIMARY: PickOptions = Object.freeze({ role: 'primary' })
const PICK_REPLICA: PickOptions = Object.freeze({ role: 'replica' })
const PICK_BY_PREFERENCE: Readonly<Record<ReadPreference, PickOptions>> = Object.freeze({
  primary: PICK_PRIMARY,
  replica: PICK_REPLICA,
  primaryPreferred: Object.freeze({ readPreference: 'primaryPreferred' }),
  replicaPreferred: Object.freeze({ readPreference: 'replicaPreferred' }),
  nearest: Object.freeze({ readPreference: 'nearest' }),
})

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
  readonly options: ResolvedHttpOptions
  readonly hostname: string
  /** TLS servername for https origins (`tls.servername`, else the host name); undefined for http. */
  readonly servername: string | undefined
  readonly endpointDispatchers: EndpointDispatchers
  readonly budget: RetryBudget | null
  /** When requests are hedged (`hedge` option); null when they are not. */
  readonly hedge: HedgePolicy | null
  /** The logical origin (`http://web.test:8080`): requests for any other origin are refused. */
  readonly #origin: string
  readonly #closePool: (() => Promise<void>) | undefined
  readonly #readPick: PickOptions
  readonly #onChange: (change: EndpointChange) => void
  readonly #stopWatchingRotation: () => void
  #ready = false
  #readyPromise: Promise<void> | null = null
  #closed = false
  #closing: Promise<void> | null = null
  /**
   * Requests past their first attempt and not answered yet. close() waits for them before it
   * closes the connection pools: one in its retry backoff still needs a pool for its next attempt.
   */
  #unanswered = 0
  #onAnswered: (() => void) | null = null
  /** An `attempt-end` listener is attached: kept by newListener/removeListener so a request reads a field. */
  #attemptEndObserved = false
  /** Stops recording metrics (set when a MeterProvider was given or registered globally). */
  readonly #stopMetrics: (() => void) | undefined
  /** Requests started and not finished (response body included): what destroy() ends. */
  #live: BalancedRequest | null = null
  #destroying: Promise<void> | null = null

  // Counters (plain numbers: the hot path only increments them).
  requests = 0
  attempts = 0
  retries = 0
  retriesDenied = 0
  failures = 0
  hedges = 0
  hedgesWon = 0
  hedgesDenied = 0
  attemptsMoved = 0
  /** @internal Attempts that lost a hedge race and may still answer: close() and destroy() abort them. */
  readonly lingering = new Set<{ stopLingering(): void }>()

  constructor(options: BalancedDispatcherOptions) {
    super()
    this.pool = options.pool
    this.service = options.pool.service
    this.options = options.http
    this.hostname = options.hostname
    this.servername =
      options.protocol === 'https:' ? (options.http.tls?.servername ?? options.hostname) : undefined
    this.#origin = new URL(options.origin).origin
    this.#closePool = options.closePool
    this.#readPick = PICK_BY_PREFERENCE[options.http.readPreference]
    this.budget = options.http.budget === false ? null : new RetryBudget(options.http.budget, options.now)
    this.hedge = options.http.hedge === false ? null : new HedgePolicy(options.http.hedge, performance.now())
    this.endpointDispatchers = new EndpointDispatchers({
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
    this.#onChange = (change) => {
      debug(
        '%s: endpoints +%d -%d ~%d',
        this.service,
        change.added.length,
        change.removed.length,
        change.updated.length,
      )
      this.endpointDispatchers.apply(change)
    }
    this.pool.on('change', this.#onChange)
    // An endpoint out of rotation: its connections are retired once the pool is done with the
    // event (an ejection is decided inside a lease's release), before undici writes anything more.
    this.#stopWatchingRotation = watchRotationExits(this.pool, (endpoint) =>
      queueMicrotask(() => this.#retire(endpoint)),
    )
    // Dispatcher types its events as undici's (connect, drain...); these are Node's own.
    const emitter = this as NodeJS.EventEmitter
    emitter.on('newListener', (event: string | symbol) => {
      if (event === 'attempt-end') this.#attemptEndObserved = true
    })
    emitter.on('removeListener', (event: string | symbol) => {
      if (event === 'attempt-end') this.#attemptEndObserved = this.listenerCount('attempt-end') > 0
    })
    const provider = chooseMeterProvider(options.http.meterProvider)
    const url = new URL(options.origin)
    const port = url.port === '' ? (options.protocol === 'https:' ? 443 : 80) : Number(url.port)
    this.#stopMetrics = provider === undefined ? undefined : recordHttpMetrics(this, provider, port)
  }

  /** @internal Someone listens to `attempt-end`. */
  get attemptEndObserved(): boolean {
    return this.#attemptEndObserved
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
      request = new BalancedRequest(this, options as Dispatcher.DispatchOptions & RouteOptions, h)
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
  whenReady(signal: AbortSignal | undefined): Promise<void> | null {
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

  /** The pick options for a request: `route` wins, then the method when routing by method. */
  pickFor(method: string, route: RouteOptions['route'], key: string | undefined): PickOptions {
    // A misspelt route must not send a write to whichever endpoint comes next.
    if (route !== undefined) oneOf('route', route, ROUTES, 'any')
    if (key !== undefined && typeof key !== 'string') throw invalidType('key', 'a string', key)
    let pick: PickOptions
    if (route !== undefined) {
      pick = route === 'any' ? PICK_ANY : PICK_BY_PREFERENCE[route]
    } else if (this.options.routeByMethod) {
      pick = READ_METHODS.includes(method) ? this.#readPick : PICK_PRIMARY
    } else {
      pick = PICK_ANY
    }
    return key === undefined ? pick : { ...pick, key }
  }

  get closed(): boolean {
    return this.#closed
  }

  /** No request unfinished (none waiting, in flight or streaming a body). */
  get idle(): boolean {
    return this.#live === null
  }

  /** @internal A request started: destroy() must reach it until it finishes. */
  link(request: BalancedRequest): void {
    request.live = true
    request.liveNext = this.#live
    if (this.#live !== null) this.#live.livePrev = request
    this.#live = request
  }

  /** @internal A linked request finished (answered and its body read, or failed). */
  unlink(request: BalancedRequest): void {
    request.live = false
    const { livePrev, liveNext } = request
    if (livePrev === null) this.#live = liveNext
    else livePrev.liveNext = liveNext
    if (liveNext !== null) liveNext.livePrev = livePrev
    request.livePrev = null
    request.liveNext = null
  }

  /**
   * The endpoint left rotation: a fresh connection pool for its next request, the old one closed
   * (idle connections now, busy ones as their requests end), and every attempt still queued there
   * unwritten sent elsewhere first (BalancedRequest#moveOff).
   */
  #retire(endpoint: Endpoint): void {
    if (this.#closed) return
    const id = endpoint.id
    const retired = this.endpointDispatchers.retire(id, () => {
      let movedAll = true
      for (let request = this.#live; request !== null; ) {
        // A move can end a request (a synchronous failure), which unlinks it: take the next first.
        const next = request.liveNext
        if (!request.moveOff(id)) movedAll = false
        request = next
      }
      return movedAll
    })
    if (retired) debug('%s: %s left rotation: its connections are retired', this.service, id)
  }

  /** @internal A request made its first attempt. */
  enter(): void {
    this.#unanswered++
  }

  /** @internal A request that entered got its answer (a response, or its final error). */
  leave(): void {
    if (--this.#unanswered > 0 || this.#onAnswered === null) return
    const answered = this.#onAnswered
    this.#onAnswered = null
    answered()
  }

  #allAnswered(): Promise<void> | undefined {
    if (this.#unanswered === 0) return undefined
    return new Promise<void>((resolve) => {
      this.#onAnswered = resolve
    })
  }

  stats(): HttpStats {
    const { pools, draining } = this.endpointDispatchers.stats()
    return {
      service: this.service,
      requests: this.requests,
      attempts: this.attempts,
      retries: this.retries,
      retriesDenied: this.retriesDenied,
      failures: this.failures,
      hedges: this.hedges,
      hedgesWon: this.hedgesWon,
      hedgesDenied: this.hedgesDenied,
      attemptsMoved: this.attemptsMoved,
      pools,
      draining,
    }
  }

  /** Takes no new request; in-flight requests finish; then every connection (and an owned pool) is closed. */
  override close(): Promise<void>
  override close(callback: () => void): void
  override close(callback?: () => void): Promise<void> | undefined {
    this.#closing ??= this.#shutdown(async () => {
      await this.#allAnswered()
      this.#stopLingering()
      await this.endpointDispatchers.close()
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
        // Each request ends (and unlinks itself) synchronously: take the next one first.
        for (let request = this.#live; request !== null; ) {
          const next = request.liveNext
          request.destroy(error)
          if (request.live) this.unlink(request)
          request = next
        }
        this.#stopLingering()
        return this.endpointDispatchers.destroy(error)
      })
      this.#closing ??= this.#destroying
    }
    const destroyed = this.#destroying
    if (cb === undefined) return destroyed
    destroyed.then(cb, cb)
    return undefined
  }

  #stopLingering(): void {
    for (const attempt of [...this.lingering]) attempt.stopLingering()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  async #shutdown(closeEndpoints: () => Promise<void>): Promise<void> {
    this.#closed = true
    this.pool.off('change', this.#onChange)
    this.#stopWatchingRotation()
    this.#stopMetrics?.()
    await closeEndpoints()
    await this.#closePool?.()
  }
}
