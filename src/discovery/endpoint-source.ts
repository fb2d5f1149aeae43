import type { Endpoint, EndpointChange } from '../endpoint.js'

/** Options of {@link EndpointSource.ready}. */
export interface ReadyOptions {
  /** Gives up (rejecting with ResolutionError) when aborted. */
  signal?: AbortSignal
  /** Gives up after this many ms (>= 0; Infinity: only `signal`). Default: the `readyTimeout` discovery option (10 s). */
  timeout?: number
  /**
   * Resolve after the first answer even when it lists no endpoint ("no ready pods"). Default
   * false: `ready()` waits until there is at least one endpoint.
   */
  allowEmpty?: boolean
}

/** `resolution` event: one resolution finished (every refresh, whether or not the set changed). */
export interface ResolutionEvent {
  /**
   * `answer`: endpoints were listed; `empty`: the service has no ready pods (the first empty
   * answer after a non-empty set is kept unconfirmed, `endpoints` still counting the old set);
   * `error`: DNS gave no answer (the last good set is kept, stale).
   */
  readonly outcome: 'answer' | 'empty' | 'error'
  /** Endpoints in the set after this resolution. */
  readonly endpoints: number
  /** With `error`: the ResolutionError (its `dnsCode` says why). */
  readonly error?: Error
}

/**
 * The events of an {@link EndpointSource}, as listener arguments: the type argument of the
 * sources' `EventEmitter` (`class MySource extends EventEmitter<EndpointSourceEvents>`).
 */
export interface EndpointSourceEvents {
  change: [change: EndpointChange]
  error: [error: Error]
  /** Optional: a source that has none never emits it. */
  resolution: [event: ResolutionEvent]
}

/**
 * What the pool needs from discovery: a live endpoint set with change events. DNS discovery
 * and the static list both implement it; tests may pass their own.
 */
export interface EndpointSource {
  /** The current set, a consistent snapshot (never mutated in place). Still readable after close(). */
  readonly endpoints: ReadonlyArray<Endpoint>
  /** True while the set is the last good answer kept after DNS errors (stale-if-error). */
  readonly stale: boolean
  /** Clock time (ms) of the last answer from discovery; undefined before one, or when the source does not say. */
  readonly answeredAt?: number | undefined
  /**
   * Resolves once the set has at least one endpoint (with `allowEmpty`: after the first answer,
   * possibly "no ready pods"); rejects with ResolutionError on timeout or abort (naming the
   * service, and saying "no ready pods, or no such service" when DNS answered with none), and
   * with ClosedError after close().
   */
  ready(options?: ReadyOptions): Promise<void>
  /**
   * Asks for a re-resolution soon (rate-limited to one per `minRefresh`; not sooner than a
   * scheduled retry after DNS errors), e.g. after a connect to a known pod was refused. Throws
   * ClosedError after close().
   */
  refresh(): void
  on(event: 'change', listener: (change: EndpointChange) => void): this
  on(event: 'error', listener: (error: Error) => void): this
  /** Optional: a source that has none never emits it. */
  on(event: 'resolution', listener: (event: ResolutionEvent) => void): this
  off(event: 'change', listener: (change: EndpointChange) => void): this
  off(event: 'error', listener: (error: Error) => void): this
  off(event: 'resolution', listener: (event: ResolutionEvent) => void): this
  /** Cancels queries in flight and stops every timer. Idempotent. */
  close(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}
