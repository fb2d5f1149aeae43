import { performance } from 'node:perf_hooks'
import type { Dispatcher } from 'undici'
import type { Endpoint } from '../endpoint.js'
import { ClosedError, DeadlineExceededError } from '../errors.js'
import type { FailureKind, Lease, PickOptions } from '../lease.js'
import { AttemptHandler, type AttemptOwner } from './attempt-handler.js'
import { attemptOptions, methodOf } from './attempt-options.js'
import type { RouteOptions } from './client-options.js'
import { HedgeRace, type RaceOwner } from './hedge-race.js'
import { type MoveOwner, moveOff } from './move-off.js'
import { type OnceBody, onceBodyFor } from './request-body.js'
import type { LiveRequest, RequestContext } from './request-context.js'
import { type RawHeaders, RequestController } from './request-controller.js'
import type { RequestEvents } from './request-events.js'
import { RequestRetries, type RetryOwner } from './request-retries.js'
import { replay, SetAsideResponse } from './set-aside-response.js'

type Handler = Dispatcher.DispatchHandler
type Controller = Dispatcher.DispatchController

/**
 * One request through a BalancedDispatcher: the controller the caller's handler sees, across
 * every attempt, and the attempt loop. The first attempt is dispatched synchronously (no promise
 * on the hot path). After a failed attempt the RetryPolicy is asked once; a retry waits out its
 * delay on the context's clock and goes to an endpoint not tried yet.
 */
export class BalancedRequest
  extends RequestController
  implements AttemptOwner, RaceOwner, RetryOwner, MoveOwner, LiveRequest
{
  readonly #ctx: RequestContext
  readonly #opts: Dispatcher.DispatchOptions & RouteOptions & { signal?: unknown }
  readonly method: string
  readonly #attemptOpts: Dispatcher.DispatchOptions
  readonly #onceBody: OnceBody | null
  readonly pick: PickOptions
  /** The hedges, for a request hedging is on for and that may be hedged; null otherwise. */
  readonly race: HedgeRace | null
  #current: AttemptHandler | null = null
  #attemptCount = 0
  #committed = false
  /** Counted in the dispatcher's unanswered requests (close() waits for them). */
  #entered = false
  #done = false
  /** The failed attempts and the retries after them; null until the first failure. */
  #retries: RequestRetries | null = null
  #setAside: SetAsideResponse | null = null
  /** The set-aside response is being handed to the caller (#replay). */
  #replaying = false
  /** @internal The dispatcher's list of unfinished requests (see InFlight). */
  livePrev: LiveRequest | null = null
  liveNext: LiveRequest | null = null
  live = false

  constructor(ctx: RequestContext, opts: Dispatcher.DispatchOptions & RouteOptions, handler: Handler) {
    super(handler)
    this.#ctx = ctx
    this.#opts = opts
    this.method = methodOf(opts.method)
    this.pick = ctx.route(this.method, opts.route, opts.key)
    this.#onceBody = onceBodyFor(opts.body)
    this.#attemptOpts = attemptOptions(opts, this.#onceBody ?? opts.body)
    this.race =
      ctx.hedge !== null &&
      !opts.upgrade &&
      this.method !== 'CONNECT' &&
      this.#onceBody === null &&
      ctx.policy.idempotent(this.method)
        ? new HedgeRace(this, ctx)
        : null
  }

  // ---- the controller the caller's handler sees (the rest is RequestController's) ----

  abort(reason: Error): void {
    this.#abortWith(reason ?? new Error('aborted'), undefined)
  }

  /**
   * @internal BalancedDispatcher#destroy: ends the request at once with `error`, wherever it is
   * (waiting for the pool, in flight, in its backoff, streaming its body).
   */
  destroy(error: Error): void {
    this.#abortWith(error, error)
  }

  protected attemptController(): Controller | null {
    return this.#current?.controller ?? null
  }

  // ---- what attempts and the race read ----

  now(): number {
    const ctx = this.#ctx
    return ctx.systemTime ? performance.now() : ctx.clock.now()
  }
  get systemTime(): boolean {
    return this.#ctx.systemTime
  }
  get racePending(): boolean {
    return !this.#done && !this.#committed && !this.aborted && this.#retries?.retrying !== true
  }
  get over(): boolean {
    return this.#done || this.aborted
  }
  get bodyReplayable(): boolean {
    return this.#onceBody === null
  }
  get bodyTouched(): boolean {
    return this.#onceBody?.touched === true
  }
  get attemptCount(): number {
    return this.#attemptCount
  }
  get current(): AttemptHandler | null {
    return this.#current
  }
  get service(): string {
    return this.#ctx.service
  }
  get path(): string {
    return this.#opts.path
  }
  get attemptEndEvents(): RequestEvents['attemptEnd'] {
    return this.#ctx.events.attemptEnd
  }
  triedIds(into: string[]): void {
    this.#retries?.log.triedIds(into)
  }

  /** Every endpoint this request went to: those that failed, the current attempt's, the race's. */
  endpoints(): ReadonlyArray<Endpoint> {
    const more: Endpoint[] = []
    if (this.#current !== null) more.push(this.#current.endpoint)
    this.race?.endpoints(more)
    return this.#retries === null ? more : this.#retries.log.endpoints(more)
  }

  // ---- the attempt loop ----

  start(): void {
    const ctx = this.#ctx
    ctx.counters.requests++
    // One clock read for the budget's window and the first attempt's latency (each read costs as
    // much as the rest of the budget's bookkeeping). The budget reads the same clock.
    const now = this.now()
    ctx.budget?.recordRequest(now)
    try {
      this.handler.onRequestStart?.(this, {})
    } catch (error) {
      this.#fail(error as Error)
      return
    }
    if (this.#done) return
    if (ctx.inFlight.closed) {
      this.#fail(new ClosedError('HTTP client', ctx.service))
      return
    }
    ctx.inFlight.link(this)
    const signal = this.#opts.signal instanceof AbortSignal ? this.#opts.signal : undefined
    const ready = ctx.whenReady(signal)
    if (ready === null) {
      this.#first(now)
      return
    }
    ready.then(
      () => {
        if (!this.#done) this.#first(this.now())
      },
      (error: unknown) => this.#fail(error as Error),
    )
  }

  /** `now`: the clock's reading, by the caller. */
  #first(now: number): void {
    const ctx = this.#ctx
    // Closed while this request waited for the pool to be ready: it never started.
    if (ctx.inFlight.closed) {
      this.#fail(new ClosedError('HTTP client', ctx.service))
      return
    }
    let lease: Lease
    try {
      lease = ctx.pool.acquire(this.pick)
    } catch (error) {
      this.#fail(error as Error)
      return
    }
    ctx.inFlight.enter()
    this.#entered = true
    this.#send(lease, now, false)
    this.race?.arm(now)
  }

  lingered(attempt: AttemptHandler): void {
    this.#ctx.inFlight.lingering.delete(attempt)
  }

  sendHedge(lease: Lease, now: number): void {
    this.#send(lease, now, true)
  }

  sendRetry(lease: Lease, now: number): void {
    this.#send(lease, now, false)
  }

  /** @internal An endpoint left rotation: attempts still queued there move (see move-off.ts). */
  moveOff(endpointId: string): boolean {
    return moveOff(this, this.#ctx, endpointId)
  }
  get settled(): boolean {
    return this.#done || this.#committed || this.aborted
  }
  get racing(): ReadonlyArray<AttemptHandler> | null {
    return this.race?.attempts ?? null
  }

  resend(attempt: AttemptHandler, lease: Lease): void {
    // The same attempt, re-routed: #send numbers it again, and the race (if any) keeps its place.
    const current = this.#current
    const count = this.#attemptCount
    this.#attemptCount = attempt.number - 1
    this.#send(lease, this.now(), attempt.hedge)
    this.#attemptCount = count
    if (current !== attempt && current !== null) this.#current = current
  }

  #send(lease: Lease, now: number, hedge: boolean): void {
    const ctx = this.#ctx
    const number = ++this.#attemptCount
    const attempt = new AttemptHandler(this, lease, now, hedge, number)
    this.#current = attempt
    this.race?.add(attempt)
    ctx.counters.attempts++
    ctx.events.attempt?.({
      service: ctx.service,
      endpoint: lease.endpoint,
      attempt: number,
      method: this.method,
      path: this.path,
    })
    try {
      ctx.connections.get(attempt.endpoint).dispatch(this.#attemptOpts, attempt)
    } catch (error) {
      // A Pool that is closing, or options undici refuses: nothing was sent.
      attempt.onResponseError(attempt.controller as Controller, error as Error)
    }
  }

  // ---- callbacks from the attempts ----

  info(controller: Controller, statusCode: number, headers: Record<string, unknown>, text?: string): void {
    // Informational responses (103 Early Hints...) are advisory: while attempts race, the caller
    // would get them from attempts whose final response it never sees.
    if (this.race?.racing === true) return
    this.rawHeaders = controller.rawHeaders ?? null
    this.handler.onResponseStart?.(this, statusCode, headers as never, text)
  }

  responseStarted(
    attempt: AttemptHandler,
    controller: Controller,
    statusCode: number,
    headers: Record<string, unknown>,
    text: string | undefined,
  ): boolean {
    if (!this.#setsAside(attempt, statusCode, headers)) {
      this.#commit(attempt, controller, statusCode, headers, text)
      return false
    }
    this.#setAside = new SetAsideResponse(statusCode, headers, text, controller.rawHeaders ?? null)
    return true
  }

  /**
   * At a final response's headers: true when its status is retried; the response is then set
   * aside, and returned as it is if no retry can be made after all.
   */
  #setsAside(attempt: AttemptHandler, statusCode: number, headers: Record<string, unknown>): boolean {
    if (this.aborted || !this.#ctx.policy.retriesStatus(statusCode, this.method, this.#onceBody === null)) {
      return false
    }
    return this.#failures().atStatus(attempt, statusCode, headers)
  }

  /** The failed attempts' record and what follows them (made at the first failure). */
  #failures(): RequestRetries {
    this.#retries ??= new RequestRetries(this, this.#ctx)
    return this.#retries
  }

  keep(chunk: Buffer): void {
    this.#setAside?.keep(chunk)
  }

  setAsideEnded(
    attempt: AttemptHandler,
    controller: Controller,
    trailers: Record<string, unknown> | null,
  ): void {
    this.#setAside?.end(trailers, controller.rawTrailers)
    this.#failures().afterStatus(attempt)
  }

  attemptFailed(attempt: AttemptHandler, error: Error, kind: FailureKind): void {
    if (this.#committed) {
      // After the response started, an error (body timeout, reset) belongs to that response.
      if (this.#done) return
      this.#finish()
      this.#ctx.counters.failures++
      this.handler.onResponseError?.(this, error)
      this.release()
      return
    }
    this.#failures().afterError(attempt, error, kind)
  }

  #commit(
    attempt: AttemptHandler,
    controller: Controller,
    statusCode: number,
    headers: Record<string, unknown>,
    text: string | undefined,
  ): void {
    this.#current = attempt
    if (this.race !== null) {
      // The caller's pause and resume went to the latest attempt: the winner may be another, and
      // must now be paused exactly when the caller asked (a stale pause would hang the body).
      this.race.won(attempt)
      if (this.paused) controller.pause()
      else controller.resume()
    }
    this.#committed = true
    this.#answered()
    this.#setAside = null
    this.#retries?.giveBack()
    this.rawHeaders = controller.rawHeaders ?? null
    this.handler.onResponseStart?.(this, statusCode, headers as never, text)
  }

  upgraded(
    controller: Controller,
    statusCode: number,
    headers: Record<string, unknown>,
    socket: unknown,
  ): void {
    this.#committed = true
    this.#finish()
    this.#answered()
    this.rawHeaders = controller.rawHeaders ?? null
    this.handler.onRequestUpgrade?.(this, statusCode, headers as never, socket as never)
    this.release()
  }

  data(_controller: Controller, chunk: Buffer): void {
    this.handler.onResponseData?.(this, chunk)
  }

  end(controller: Controller, trailers: Record<string, unknown>): void {
    if (this.#done) return
    this.#finish()
    this.rawTrailers = controller.rawTrailers ?? null
    this.handler.onResponseEnd?.(this, trailers as never)
    this.release()
  }

  // ---- the end of a request ----

  /** `error`: what the caller gets before a response; a caller's abort makes it DeadlineExceededError. */
  #abortWith(reason: Error, error: Error | undefined): void {
    if (this.aborted || this.#done) return
    this.abortReason = reason
    this.#retries?.cancel()
    const current = this.#current
    if (this.#committed) {
      // A response replayed from what was set aside has no undici request left to abort.
      if (this.#replaying) this.#fail(reason)
      // Otherwise the response is the caller's: abort it, and undici reports the error through it.
      else current?.controller?.abort(reason)
      return
    }
    this.race?.clearTimer()
    current?.detach(reason)
    this.race?.cancel(null, reason)
    this.#fail(error ?? new DeadlineExceededError(this.#ctx.service, this.endpoints(), reason))
  }

  /** Ends the request with an error; a retryable response set aside is returned instead, as the last answer a server gave. */
  stop(error: Error): void {
    this.race?.clearTimer()
    this.#retries?.giveBack()
    const kept = this.#setAside
    if (kept?.complete === true && !this.aborted) {
      this.#replay(kept)
      return
    }
    this.#fail(error)
  }

  #replay(kept: SetAsideResponse): void {
    this.#setAside = null
    this.#committed = true
    this.#answered()
    this.rawHeaders = kept.rawHeaders
    this.#replaying = true
    const thrown = replay(kept, this.handler, this)
    if (thrown !== null) {
      this.#done = false
      this.#fail(thrown.error as Error)
    } else if (this.#done) this.release()
    this.#replaying = false
  }

  /** @internal replay(): the request is over, just before the response's last callback. */
  finishReplay(rawTrailers: RawHeaders): void {
    this.#finish()
    this.rawTrailers = rawTrailers
  }

  #fail(error: Error): void {
    if (this.#done) return
    this.#finish()
    this.#answered()
    this.#ctx.counters.failures++
    this.race?.clearTimer()
    this.race?.cancel(null, error)
    this.#retries?.cancel()
    this.handler.onResponseError?.(this, error)
    this.release()
  }

  /** After the handler's last callback, the attempt goes with the handler and the headers. */
  protected override release(): void {
    super.release()
    this.#current = null
  }

  #finish(): void {
    this.#done = true
    if (this.live) this.#ctx.inFlight.unlink(this)
  }

  #answered(): void {
    if (!this.#entered) return
    this.#entered = false
    this.#ctx.inFlight.leave()
  }
}
