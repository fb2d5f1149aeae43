import { Dispatcher, fetch as undiciFetch } from 'undici'
import type { Pool } from '../pool.js'
import type { BalancedDispatcher, BalancedDispatcherEvents, HttpStats } from './balanced-dispatcher.js'
import type { RouteOptions } from './client-options.js'
import type { LeasePool } from './lease-pool.js'

/** `client.request` options: undici's request options (origin and path come from the client) plus routing. */
export type ClientRequestOptions = Omit<Dispatcher.RequestOptions, 'origin' | 'path' | 'method'> & {
  method?: Dispatcher.HttpMethod
} & RouteOptions

/** `client.fetch` init: WHATWG RequestInit (undici's) plus routing. */
export type ClientRequestInit = Omit<NonNullable<Parameters<typeof undiciFetch>[1]>, 'dispatcher'> &
  RouteOptions

/**
 * Passes a request's route and key to the balanced dispatcher: `fetch` does not forward custom
 * dispatch options, so a per-call dispatcher carries them.
 */
class RoutedDispatcher extends Dispatcher {
  readonly #inner: BalancedDispatcher
  readonly #route: RouteOptions
  constructor(inner: BalancedDispatcher, route: RouteOptions) {
    super()
    this.#inner = inner
    this.#route = route
  }
  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    return this.#inner.dispatch({ ...options, ...this.#route } as Dispatcher.DispatchOptions, handler)
  }
  override close(): Promise<void> {
    return Promise.resolve()
  }
  override destroy(): Promise<void> {
    return Promise.resolve()
  }
}

/**
 * An HTTP client for one service: every request goes to an endpoint the pool picks, with safe
 * retries on another one. `client.dispatcher` is an undici Dispatcher for `undici.request`,
 * `undici.fetch` and `setGlobalDispatcher`.
 */
export class HeadlessClient<P extends LeasePool = Pool> {
  /** The origin requests are made to: its host is the Host header and the TLS servername. */
  readonly origin: string
  readonly dispatcher: BalancedDispatcher

  constructor(origin: string, dispatcher: BalancedDispatcher) {
    this.origin = origin
    this.dispatcher = dispatcher
  }

  /** The pool: `stats()`, events (`change`, `eject`...), `endpoints`. */
  get pool(): P {
    return this.dispatcher.pool as P
  }

  /** Like `undici.request(origin + path, options)`; resolves with statusCode, headers and body. */
  request(path: string, options: ClientRequestOptions = {}): Promise<Dispatcher.ResponseData> {
    return this.dispatcher.request({
      ...options,
      origin: this.origin,
      path,
      method: options.method ?? 'GET',
    } as Dispatcher.RequestOptions)
  }

  /** WHATWG fetch (undici's) against `origin + path`. */
  fetch(path: string, init: ClientRequestInit = {}): ReturnType<typeof undiciFetch> {
    const { route, key, ...rest } = init
    const dispatcher =
      route === undefined && key === undefined
        ? this.dispatcher
        : new RoutedDispatcher(this.dispatcher, { route, key } as RouteOptions)
    return undiciFetch(new URL(path, this.origin), { ...rest, dispatcher })
  }

  /** Counters: requests, attempts, retries, retries denied by the budget, failures, hedges, connection pools. */
  stats(): HttpStats {
    return this.dispatcher.stats()
  }

  /** The dispatcher's events: `attempt`, `attempt-end`, `retry`, `hedge` (docs/observability.md). */
  on<E extends keyof BalancedDispatcherEvents>(
    event: E,
    listener: (...args: BalancedDispatcherEvents[E]) => void,
  ): this {
    this.dispatcher.on(event, listener)
    return this
  }

  once<E extends keyof BalancedDispatcherEvents>(
    event: E,
    listener: (...args: BalancedDispatcherEvents[E]) => void,
  ): this {
    this.dispatcher.once(event, listener)
    return this
  }

  off<E extends keyof BalancedDispatcherEvents>(
    event: E,
    listener: (...args: BalancedDispatcherEvents[E]) => void,
  ): this {
    this.dispatcher.off(event, listener)
    return this
  }

  /**
   * Graceful: takes no new request, lets in-flight ones finish (however long a hung pod takes:
   * up to `timeouts.headers`, or for ever behind a body that keeps dripping), then closes every
   * connection (and the pool, if the client created it). Idempotent. For a bounded shutdown, race
   * it with a timer and call destroy().
   */
  close(): Promise<void> {
    return this.dispatcher.close()
  }

  /**
   * Ends everything at once: every unfinished request (in flight on a hung pod, in its retry
   * backoff, waiting for the pool, or streaming a response body) fails with `error`, or with
   * DestroyedError; then every connection (and the pool, if the client created it) is closed.
   * Idempotent. A close() in progress resolves with it; close() afterwards resolves too.
   */
  destroy(error?: Error): Promise<void> {
    return this.dispatcher.destroy(error ?? null)
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}
