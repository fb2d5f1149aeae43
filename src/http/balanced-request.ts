import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { debuglog } from 'node:util'
import pRetry from 'p-retry'
import type { Dispatcher } from 'undici'
import type { Endpoint } from '../endpoint.js'
import {
  type AttemptRecord,
  ClosedError,
  DeadlineExceededError,
  RequestFailedError,
  RetryBudgetExhaustedError,
} from '../errors.js'
import type { FailureKind, Lease, PickOptions } from '../lease.js'
import { AttemptMovedError } from './attempt-moved-error.js'
import type {
  AttemptEndEvent,
  AttemptEvent,
  BalancedDispatcher,
  HedgeEvent,
  RetryEvent,
} from './balanced-dispatcher.js'
import { classifyFailure } from './classify-failure.js'
import type { RouteOptions } from './client-options.js'
import { HedgeLostError } from './hedge-policy.js'
import { parseRetryAfter } from './retry-after.js'

const debug = debuglog('headless-lb')

type Handler = Dispatcher.DispatchHandler
type Controller = Dispatcher.DispatchController
type RawHeaders = Exclude<Controller['rawHeaders'], undefined>

/** An attempt that failed and will be retried (p-retry retries it; it is never a TypeError). */
class RetryableAttempt extends Error {
  readonly retryAfter: number
  /**
   * The request never left this process (a refused connect): retry on another endpoint at once,
   * without backoff, as gRPC's transparent retries do. It still counts against `retries` and the budget.
   */
  readonly immediate: boolean
  constructor(cause: unknown, retryAfter: number, immediate: boolean) {
    super('attempt failed; retrying on another endpoint', { cause })
    this.retryAfter = retryAfter
    this.immediate = immediate
  }
}

/** The request is over with this error: p-retry must stop. */
class FinalFailure extends Error {
  readonly error: Error
  constructor(error: Error) {
    super(error.message)
    this.error = error
  }
}

/** A response status the retry policy retries (502/503/504 by default), as an attempt's error. */
class RetryableStatusError extends Error {
  readonly code = 'HLB_ERR_RETRYABLE_STATUS'
  readonly statusCode: number
  constructor(statusCode: number) {
    super(`response status ${statusCode}`)
    this.statusCode = statusCode
  }
}

/**
 * A request body undici may read at most once (a stream, an async iterable as `fetch` always
 * sends, or a plain iterable such as a generator): it is wrapped so that we know whether any of
 * it was read. Untouched, it can still go to another endpoint after a failed connect; touched,
 * it cannot be sent again.
 */
class OnceBody implements AsyncIterable<unknown> {
  touched = false
  readonly #source: AsyncIterable<unknown> | Iterable<unknown>
  constructor(source: AsyncIterable<unknown> | Iterable<unknown>) {
    this.#source = source
  }
  [Symbol.asyncIterator](): AsyncIterator<unknown> {
    this.touched = true
    const source = this.#source
    // for await accepts a sync iterator's results as they are (undici writes each chunk).
    return Symbol.asyncIterator in source
      ? source[Symbol.asyncIterator]()
      : (source[Symbol.iterator]() as unknown as AsyncIterator<unknown>)
  }
}

function isReplayable(body: unknown): boolean {
  if (body === undefined || body === null || typeof body === 'string' || ArrayBuffer.isView(body)) return true
  if (body instanceof ArrayBuffer || Array.isArray(body)) return true
  // Blob and (undici's) FormData are read afresh on every dispatch; FormData is iterable, but
  // undici encodes it whole, so it must not be wrapped as a one-shot iterable.
  if (
    typeof body === 'object' &&
    (body as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag] === 'FormData'
  ) {
    return true
  }
  return typeof Blob !== 'undefined' && body instanceof Blob
}

/**
 * One attempt on one endpoint: the handler undici's per-endpoint Pool calls. It owns the lease
 * and releases it exactly once with the outcome. Once detached (the request was aborted, or
 * moved on), its callbacks no longer reach the caller.
 */
class AttemptHandler implements Handler {
  readonly request: BalancedRequest
  readonly lease: Lease
  /** Kept apart from the lease: the pool recycles a lease object once it is released. */
  readonly endpoint: Endpoint
  readonly start: number
  /** 1 for the first try, 2 for the first retry or hedge... */
  readonly number: number
  /** Sent while an earlier attempt of the same request was still in flight. */
  readonly hedge: boolean
  controller: Controller | null = null
  /** undici handed the request to a connection: from here on, it may have reached the server. */
  started = false
  detached = false
  swallow = false
  statusCode = 0
  latency = -1
  /** What the lease was released with (read by `attempt-end`). */
  outcome: 'ok' | FailureKind = 'ok'
  error: unknown
  /** Why the attempt was detached (the caller's abort reason, or the request moving on). */
  detachReason: unknown = undefined
  #released = false
  #reported = false
  /** While a lost race's attempt is given time to answer anyway (see linger). */
  #lingerTimer: NodeJS.Timeout | null = null

  /** `start`: performance.now() when the attempt began (the caller has just read it). */
  constructor(request: BalancedRequest, lease: Lease, start: number, hedge: boolean, number: number) {
    this.request = request
    this.lease = lease
    this.endpoint = lease.endpoint
    this.start = start
    this.hedge = hedge
    this.number = number
  }

  /** Its lease is released: the attempt is over (answered, failed, or cancelled). */
  get settled(): boolean {
    return this.#released
  }

  /** `censored`: with `cancelled`, the time waited is a lower bound on the endpoint's latency. */
  release(ok: boolean, kind: FailureKind | undefined, error: unknown, censored = false): void {
    if (this.#released) return
    this.#released = true
    if (this.#lingerTimer !== null) {
      clearTimeout(this.#lingerTimer)
      this.#lingerTimer = null
      this.request.lingered(this)
    }
    let latency = this.latency
    if (latency < 0) {
      latency = performance.now() - this.start
      this.latency = latency
    }
    if (!ok) {
      this.outcome = kind ?? 'other'
      this.error = error
    }
    if (ok) this.lease.release({ ok: true, latency })
    else if (kind === undefined) this.lease.release({ ok: false, error, latency })
    else if (censored) this.lease.release({ ok: false, error, kind, latency, censored })
    else this.lease.release({ ok: false, error, kind, latency })
  }

  /**
   * The attempt is over and whether the request goes on is known: `attempt-end`, once. Called
   * after release (the outcome is set), with `willRetry` true where a retry is decided and false
   * from every callback that ends an attempt (a no-op once reported).
   */
  report(willRetry: boolean): void {
    if (this.#reported) return
    this.#reported = true
    if (this.request.observed) this.request.attemptEnded(this, willRetry)
  }

  /** Stops this attempt: it never reaches the caller again; an unstarted request is never sent. */
  detach(reason: Error): void {
    if (this.detached) return
    this.detached = true
    this.detachReason = reason
    if (this.controller !== null) this.controller.abort(reason)
    else {
      this.release(false, 'cancelled', reason)
      this.report(false)
    }
  }

  /**
   * Lost the race while sent and unanswered: no longer reaches the caller, but keeps its lease
   * for up to `ms`, so that the pool sees how slow its endpoint is (an answer: its real latency;
   * none: a censored latency of `ms`, and the in-flight count and stall detection meanwhile)
   * rather than an attempt that vanished after a few milliseconds. Then it is aborted.
   */
  linger(reason: Error, ms: number): void {
    this.detached = true
    this.detachReason = reason
    this.#lingerTimer = setTimeout(stopLingering, ms, this).unref()
  }

  get lingering(): boolean {
    return this.#lingerTimer !== null
  }

  /** The linger time is over, or the client closes: abort the attempt (released as censored). */
  stopLingering(): void {
    if (this.#lingerTimer === null) return
    clearTimeout(this.#lingerTimer)
    this.#lingerTimer = null
    this.request.lingered(this)
    if (this.controller !== null) this.controller.abort(this.detachReason as Error)
    else {
      this.release(false, 'cancelled', this.detachReason)
      this.report(false)
    }
  }

  onRequestStart(controller: Controller, _context: unknown): void {
    this.controller = controller
    if (this.detached) {
      controller.abort(this.request.reason ?? new Error('attempt abandoned'))
      return
    }
    this.started = true
    if (this.request.paused) controller.pause()
  }

  onRequestUpgrade(
    controller: Controller,
    statusCode: number,
    headers: Record<string, unknown>,
    socket: unknown,
  ): void {
    this.release(true, undefined, undefined)
    this.report(false)
    if (this.detached) return
    this.request.upgrade(controller, statusCode, headers, socket)
  }

  onResponseStart(
    controller: Controller,
    statusCode: number,
    headers: Record<string, unknown>,
    text?: string,
  ): void {
    if (this.detached) {
      // A lost race's attempt answered while it lingered: its real latency, for the pool.
      if (this.#lingerTimer !== null && statusCode >= 200 && this.latency < 0) {
        this.latency = performance.now() - this.start
        this.statusCode = statusCode
        this.lease.responded?.()
      }
      return
    }
    if (statusCode < 200) {
      this.request.info(controller, statusCode, headers, text)
      return
    }
    this.latency = performance.now() - this.start
    this.statusCode = statusCode
    // The endpoint answered: its lease no longer waits (stall detection), though a body may follow.
    this.lease.responded?.()
    if (this.request.retryOnStatus(this, controller, statusCode, headers, text)) {
      this.swallow = true
      return
    }
    this.request.commit(this, controller, statusCode, headers, text)
  }

  /**
   * How an attempt we abandoned ends for its endpoint. Sent, unanswered, and abandoned because
   * time ran out (the caller's deadline: an AbortSignal.timeout() reason, or our
   * DeadlineExceededError): a `timeout`, as if undici's headers timeout had fired, so outlier
   * detection and the latency average hear of a pod that never answers. Anything else (an explicit
   * cancel, an attempt never written, or an abort after the response began) says nothing about
   * the endpoint: `cancelled`. A hedge that lost (sent, unanswered, another attempt answered
   * first) is `cancelled` too, but censored (see #lostRace).
   */
  #abandoned(): FailureKind {
    if (!this.started || this.latency >= 0) return 'cancelled'
    return isTimeoutReason(this.detached ? this.detachReason : this.request.reason) ? 'timeout' : 'cancelled'
  }

  /**
   * Sent, unanswered, and abandoned because another attempt of the request answered first: the
   * endpoint took longer than the winner's whole attempt, so the time waited is a censored latency
   * (a lower bound) for it. Not a failure (losing a race is not the pod's fault), but without the
   * sample a slow pod whose attempts always lose would look idle and never-measured to peak-EWMA,
   * and get the next first attempt.
   */
  #lostRace(): boolean {
    return this.started && this.latency < 0 && this.detached && this.detachReason instanceof HedgeLostError
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    if (this.detached) return
    if (this.swallow) this.request.buffer(chunk)
    else this.request.data(controller, chunk)
  }

  onResponseEnd(controller: Controller, trailers: Record<string, unknown>): void {
    const failed = this.statusCode >= 500
    this.release(!failed, failed ? 'status' : undefined, undefined)
    if (this.detached || !this.swallow) {
      this.report(false)
      if (!this.detached) this.request.end(controller, trailers)
      return
    }
    this.request.retryAfterStatus(this, controller, trailers)
    this.report(false)
  }

  onResponseError(controller: Controller, error: Error): void {
    const kind = classifyFailure(error)
    this.release(
      false,
      this.detached || this.request.aborted ? this.#abandoned() : isRequestFault(error) ? 'cancelled' : kind,
      error,
      this.#lostRace(),
    )
    if (this.detached) {
      this.report(false)
      return
    }
    if (this.swallow) {
      // The body of a response we were setting aside broke: the retry is already decided.
      this.request.retryAfterStatus(this, controller, null)
    } else this.request.attemptError(this, controller, error, kind)
    this.report(false)
  }
}

/** A retryable response (a 503...) set aside while its request is retried elsewhere. */
interface SetAside {
  readonly statusCode: number
  readonly headers: Record<string, unknown>
  readonly text: string | undefined
  readonly rawHeaders: RawHeaders
  readonly chunks: Buffer[]
  size: number
  trailers: Record<string, unknown> | null
  rawTrailers: RawHeaders
}

/** Bodies of retryable responses are kept (to return the last one if no retry can happen) up to this size. */
const SET_ASIDE_LIMIT = 64 * 1024

/**
 * One request through a BalancedDispatcher: the controller the caller's handler sees, across
 * every attempt. The first attempt is dispatched synchronously (no promise on the hot path);
 * after a retryable failure, p-retry runs the remaining attempts with backoff and jitter, each
 * on an endpoint not tried yet.
 */
export class BalancedRequest implements Controller {
  readonly #d: BalancedDispatcher
  readonly #opts: Dispatcher.DispatchOptions & RouteOptions & { signal?: unknown }
  readonly #handler: Handler
  readonly #method: string
  readonly #attemptOpts: Dispatcher.DispatchOptions
  readonly #onceBody: OnceBody | null
  readonly #pick: PickOptions
  /** Hedging is on and this request may be hedged (idempotent, replayable body, no upgrade). */
  readonly #hedgeable: boolean
  /** Every attempt of the race once a hedge went out (the first included); null until then. */
  #racing: AttemptHandler[] | null = null
  /** The hedge's timer, then (once it fired) the immediate that sends the hedge after the poll phase. */
  #hedgeTimer: NodeJS.Timeout | NodeJS.Immediate | null = null
  #hedgeTimerFired = false
  /** What the pending hedge timer waits, ms (for the `hedge` event). */
  #hedgeDelay = 0
  #attempts: AttemptRecord[] | null = null
  #current: AttemptHandler | null = null
  #attemptCount = 0
  #committed = false
  /** Counted in the dispatcher's unanswered requests (close() waits for them). */
  #entered = false
  #done = false
  #aborted = false
  #reason: Error | null = null
  #paused = false
  #retryAbort: AbortController | null = null
  #settle: { resolve: () => void; reject: (error: Error) => void } | null = null
  #setAside: SetAside | null = null
  /** The set-aside response is being handed to the caller (#replay). */
  #replaying = false
  /** `Retry-After` of the response set aside, ms. */
  #pendingRetryAfter = 0
  rawHeaders: RawHeaders = null
  rawTrailers: RawHeaders = null
  /**
   * @internal The dispatcher's list of unfinished requests (intrusive, so linking allocates
   * nothing): destroy() walks it to end each one.
   */
  livePrev: BalancedRequest | null = null
  liveNext: BalancedRequest | null = null
  live = false

  constructor(
    dispatcher: BalancedDispatcher,
    opts: Dispatcher.DispatchOptions & RouteOptions,
    handler: Handler,
  ) {
    this.#d = dispatcher
    this.#opts = opts
    this.#handler = handler
    this.#method = opts.method === undefined ? 'GET' : String(opts.method).toUpperCase()
    this.#pick = dispatcher.pickFor(this.#method, opts.route, opts.key)
    let body: unknown = opts.body
    this.#onceBody = null
    if (!isReplayable(body) && isIterable(body)) {
      this.#onceBody = new OnceBody(body)
      body = this.#onceBody
    }
    this.#attemptOpts = {
      path: opts.path,
      method: normalizeMethod(opts.method),
      headers: opts.headers,
      body: body as Dispatcher.DispatchOptions['body'],
      query: opts.query,
      idempotent: opts.idempotent,
      blocking: opts.blocking,
      upgrade: opts.upgrade,
      headersTimeout: opts.headersTimeout,
      bodyTimeout: opts.bodyTimeout,
      reset: opts.reset,
      expectContinue: opts.expectContinue,
    } as Dispatcher.DispatchOptions
    this.#hedgeable =
      dispatcher.hedge !== null && !opts.upgrade && this.#method !== 'CONNECT' && this.#idempotentReplayable()
  }

  // ---- the controller the caller's handler sees ----

  get aborted(): boolean {
    return this.#aborted
  }
  get paused(): boolean {
    return this.#paused
  }
  get reason(): Error | null {
    return this.#reason
  }

  /** Someone listens to `attempt-end` (a plain field read: the hot path builds no event otherwise). */
  get observed(): boolean {
    return this.#d.attemptEndObserved
  }

  /** Emits `attempt-end` for an attempt that is over (AttemptHandler.report decides when). */
  attemptEnded(attempt: AttemptHandler, willRetry: boolean): void {
    const d = this.#d
    const event: Record<string, unknown> = {
      service: d.service,
      endpoint: attempt.endpoint,
      attempt: attempt.number,
      method: this.#method,
      path: this.#opts.path,
      outcome: attempt.outcome,
      statusCode: attempt.statusCode,
      latency: attempt.latency,
      willRetry,
    }
    if (attempt.error !== undefined) event.error = attempt.error
    ;(d as NodeJS.EventEmitter).emit('attempt-end', event as unknown as AttemptEndEvent)
  }

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

  /** `error`: what the caller gets before a response; a caller's abort makes it DeadlineExceededError. */
  #abortWith(reason: Error, error: Error | undefined): void {
    if (this.#aborted || this.#done) return
    this.#aborted = true
    this.#reason = reason
    this.#retryAbort?.abort(this.#reason)
    const current = this.#current
    if (this.#committed) {
      // A response replayed from what was set aside has no undici request left to abort.
      if (this.#replaying) this.#fail(this.#reason)
      // Otherwise the response is the caller's: abort it, and undici reports the error through it.
      else current?.controller?.abort(this.#reason)
      return
    }
    this.#clearHedgeTimer()
    current?.detach(this.#reason)
    this.#detachRacing(null, this.#reason)
    const failure = error ?? new DeadlineExceededError(this.#d.service, this.#endpoints(), this.#reason)
    this.#fail(failure)
    this.#rejectSettle(failure)
  }

  pause(): void {
    this.#paused = true
    this.#current?.controller?.pause()
  }

  resume(): void {
    this.#paused = false
    this.#current?.controller?.resume()
  }

  // ---- lifecycle ----

  start(): void {
    const d = this.#d
    d.requests++
    // One clock read for the budget's window and the first attempt's latency (each read costs as
    // much as the rest of the budget's bookkeeping).
    const now = performance.now()
    const budget = d.budget
    if (budget !== null) budget.recordRequest(budget.systemClock ? now : undefined)
    try {
      this.#handler.onRequestStart?.(this, {})
    } catch (error) {
      this.#fail(error as Error)
      return
    }
    if (this.#done) return
    if (d.closed) {
      this.#fail(new ClosedError('HTTP client', d.service))
      return
    }
    d.link(this)
    const signal = this.#opts.signal instanceof AbortSignal ? this.#opts.signal : undefined
    const ready = d.whenReady(signal)
    if (ready === null) {
      this.#first(now)
      return
    }
    ready.then(
      () => {
        if (!this.#done) this.#first(performance.now())
      },
      (error: unknown) => this.#fail(error as Error),
    )
  }

  /** `now`: performance.now(), read by the caller. */
  #first(now: number): void {
    const d = this.#d
    // Closed while this request waited for the pool to be ready: it never started.
    if (d.closed) {
      this.#fail(new ClosedError('HTTP client', d.service))
      return
    }
    let lease: Lease
    try {
      lease = d.pool.acquire(this.#pick)
    } catch (error) {
      this.#fail(error as Error)
      return
    }
    d.enter()
    this.#entered = true
    this.#send(lease, now, false)
    if (this.#hedgeable) this.#armHedge(now)
  }

  #send(lease: Lease, now: number, hedge: boolean): void {
    const d = this.#d
    this.#attemptCount++
    const attempt = new AttemptHandler(this, lease, now, hedge, this.#attemptCount)
    this.#current = attempt
    if (this.#racing !== null) this.#racing.push(attempt)
    d.attempts++
    if (d.listenerCount('attempt') > 0) {
      ;(d as NodeJS.EventEmitter).emit('attempt', {
        service: d.service,
        endpoint: lease.endpoint,
        attempt: this.#attemptCount,
        method: this.#method,
        path: this.#opts.path,
      } satisfies AttemptEvent)
    }
    try {
      d.endpointDispatchers.get(attempt.endpoint).dispatch(this.#attemptOpts, attempt)
    } catch (error) {
      // A Pool that is closing, or options undici refuses: nothing was sent.
      attempt.onResponseError(attempt.controller as Controller, error as Error)
    }
  }

  /**
   * @internal `endpointId` left rotation and its connections are being retired: each attempt of
   * this request still waiting there for a connection (undici never called onRequestStart, so
   * nothing was written, whatever the method) goes to another endpoint now, rather than waiting
   * out connects to a pod that may be black-holed. A move is not a retry: like gRPC's transparent
   * retry of a request that never left the client, it keeps the attempt's number and counts
   * neither against `retry.retries` nor the budget; the attempt taken back ends `cancelled`
   * (`attempt-end` with an AttemptMovedError). With no other endpoint, it goes to the same one
   * (a fresh connection pool there). Returns false if an attempt had to stay where it was.
   */
  moveOff(endpointId: string): boolean {
    if (this.#done || this.#committed || this.#aborted) return true
    const racing = this.#racing
    if (racing === null) {
      const attempt = this.#current
      return attempt === null || !queuedOn(attempt, endpointId) || this.#move(attempt)
    }
    let movedAll = true
    for (const attempt of [...racing])
      if (queuedOn(attempt, endpointId) && !this.#move(attempt)) movedAll = false
    return movedAll
  }

  #move(attempt: AttemptHandler): boolean {
    const d = this.#d
    if (d.endpointDispatchers.closed) return false
    const tried: string[] = []
    for (const record of this.#attempts ?? []) tried.push(record.endpoint.id)
    for (const a of this.#racing ?? []) if (a !== attempt && !a.settled) tried.push(a.endpoint.id)
    let lease: Lease
    try {
      lease = d.pool.acquire({ ...this.#pick, exclude: [...tried, attempt.endpoint.id] })
    } catch {
      try {
        lease = d.pool.acquire({ ...this.#pick, exclude: tried })
      } catch {
        return false
      }
    }
    const current = this.#current
    attempt.detach(new AttemptMovedError(attempt.endpoint.id))
    d.attemptsMoved++
    // The same attempt, re-routed: #send numbers it again, and the race (if any) keeps its place.
    const count = this.#attemptCount
    this.#attemptCount = attempt.number - 1
    this.#send(lease, performance.now(), attempt.hedge)
    this.#attemptCount = count
    if (current !== attempt && current !== null) this.#current = current
    return true
  }

  // ---- hedging (hedge-policy.ts decides when; the race is run here) ----

  /** Schedules the next hedge, if the policy has a delay and attempts are left. */
  #armHedge(now: number): void {
    const policy = this.#d.hedge
    if (policy === null || this.#attemptCount >= policy.maxAttempts || !this.#racePending()) return
    const delay = policy.delay(now)
    if (delay < 0) return
    this.#hedgeDelay = delay
    this.#hedgeTimerFired = false
    // Unref'd: the attempt in flight keeps the process alive; the timer alone must not.
    this.#hedgeTimer = setTimeout(hedgeDue, delay, this).unref()
  }

  /**
   * @internal The hedge timer fired. Timers run before the event loop reads sockets: on a busy
   * loop, the answer may already be waiting in the socket. The hedge goes out after the poll
   * phase (setImmediate), so that such an answer wins without a hedge. Measured (bench/hedging.ts,
   * peak-ewma, one slow pod, a CPU-bound client): 24 % of requests wanted a hedge at p95 without
   * this, 7 % with it.
   */
  hedgeDue(): void {
    this.#hedgeTimerFired = true
    this.#hedgeTimer = setImmediate(hedgeChecked, this).unref()
  }

  /** @internal The poll phase after the hedge timer is over, and no answer came. */
  hedgeChecked(): void {
    this.#hedgeTimer = null
    this.#hedge()
  }

  /** The first attempt is still racing: not answered, failed over to retries, aborted or ended. */
  #racePending(): boolean {
    return !this.#done && !this.#committed && !this.#aborted && this.#retryAbort === null
  }

  /**
   * Sends the same request to an endpoint no attempt has gone to yet. A hedge is a retry for the
   * budget (so hedging adds at most `retry.budget.ratio` of load); without budget, or without
   * another endpoint, no hedge goes out and the attempts in flight carry on.
   */
  #hedge(): void {
    if (!this.#racePending()) return
    const d = this.#d
    if (d.endpointDispatchers.closed) return
    const budget = d.budget
    if (budget !== null && !budget.tryRetry()) {
      d.hedgesDenied++
      return
    }
    const outstanding = this.#racing ?? (this.#current === null ? [] : [this.#current])
    const tried: string[] = []
    for (const a of outstanding) tried.push(a.endpoint.id)
    for (const record of this.#attempts ?? []) tried.push(record.endpoint.id)
    let lease: Lease
    try {
      lease = d.pool.acquire({ ...this.#pick, exclude: tried })
    } catch {
      // No other endpoint (one pod, the rest ejected or tried): wait for the attempts in flight.
      budget?.refund()
      return
    }
    this.#racing ??= [...outstanding]
    d.hedges++
    if (d.listenerCount('hedge') > 0) {
      ;(d as NodeJS.EventEmitter).emit('hedge', {
        service: d.service,
        endpoint: lease.endpoint,
        attempt: this.#attemptCount + 1,
        delay: this.#hedgeDelay,
        outstanding: outstanding.filter((a) => !a.settled).map((a) => a.endpoint),
      } satisfies HedgeEvent)
    }
    const now = performance.now()
    this.#send(lease, now, true)
    this.#armHedge(now)
  }

  /**
   * An attempt failed while another is in flight: send the next hedge now rather than after the
   * rest of its delay (gRPC does the same after a non-fatal status).
   */
  #hedgeNow(): void {
    if (this.#hedgeTimer === null) return
    this.#clearHedgeTimer()
    this.#hedge()
  }

  /** Another attempt of this request has not ended yet. */
  #othersInFlight(attempt: AttemptHandler): boolean {
    const racing = this.#racing
    if (racing === null) return false
    for (const a of racing) if (a !== attempt && !a.settled && !a.detached) return true
    return false
  }

  /** `winner` answered (null: the request ended): every other attempt in flight is cancelled. */
  #detachRacing(winner: AttemptHandler | null, reason: Error): void {
    const racing = this.#racing
    if (racing === null) return
    this.#racing = null
    const linger = winner === null || this.#d.closed ? 0 : (this.#d.hedge?.linger(this.#hedgeDelay) ?? 0)
    for (const a of racing) {
      if (a === winner || a.settled) continue
      if (linger > 0 && a.started && a.latency < 0) {
        a.linger(reason, linger)
        this.#d.lingering.add(a)
      } else a.detach(reason)
    }
  }

  /** @internal `attempt` stopped lingering (answered, aborted, or released). */
  lingered(attempt: AttemptHandler): void {
    this.#d.lingering.delete(attempt)
  }

  #won(attempt: AttemptHandler): void {
    this.#clearHedgeTimer()
    const d = this.#d
    if (attempt.latency >= 0) d.hedge?.record(attempt.latency, attempt.start + attempt.latency)
    if (this.#racing === null) return
    if (attempt.hedge) d.hedgesWon++
    this.#detachRacing(attempt, new HedgeLostError())
  }

  #clearHedgeTimer(): void {
    const timer = this.#hedgeTimer
    if (timer === null) return
    if (this.#hedgeTimerFired) clearImmediate(timer as NodeJS.Immediate)
    else clearTimeout(timer as NodeJS.Timeout)
    this.#hedgeTimer = null
  }

  // ---- callbacks from the current attempt ----

  info(controller: Controller, statusCode: number, headers: Record<string, unknown>, text?: string): void {
    // Informational responses (103 Early Hints...) are advisory: while attempts race, the caller
    // would get them from attempts whose final response it never sees.
    if (this.#racing !== null) return
    this.rawHeaders = controller.rawHeaders ?? null
    this.#handler.onResponseStart?.(this, statusCode, headers as never, text)
  }

  commit(
    attempt: AttemptHandler,
    controller: Controller,
    statusCode: number,
    headers: Record<string, unknown>,
    text?: string,
  ): void {
    this.#current = attempt
    if (this.#hedgeable) this.#won(attempt)
    this.#committed = true
    this.#answered()
    this.#setAside = null
    this.#resolveSettle()
    this.rawHeaders = controller.rawHeaders ?? null
    this.#handler.onResponseStart?.(this, statusCode, headers as never, text)
  }

  upgrade(
    controller: Controller,
    statusCode: number,
    headers: Record<string, unknown>,
    socket: unknown,
  ): void {
    this.#committed = true
    this.#finish()
    this.#answered()
    this.#resolveSettle()
    this.rawHeaders = controller.rawHeaders ?? null
    this.#handler.onRequestUpgrade?.(this, statusCode, headers as never, socket as never)
  }

  data(_controller: Controller, chunk: Buffer): void {
    this.#handler.onResponseData?.(this, chunk)
  }

  end(controller: Controller, trailers: Record<string, unknown>): void {
    if (this.#done) return
    this.#finish()
    this.rawTrailers = controller.rawTrailers ?? null
    this.#handler.onResponseEnd?.(this, trailers as never)
  }

  attemptError(attempt: AttemptHandler, _controller: Controller, error: Error, kind: FailureKind): void {
    if (this.#committed) {
      // After the response started, an error (body timeout, reset) belongs to that response.
      if (this.#done) return
      this.#finish()
      this.#d.failures++
      this.#handler.onResponseError?.(this, error)
      return
    }
    this.#record(attempt.endpoint, error, undefined)
    if (this.#aborted) return
    const o = this.#d.options
    // undici refused the request itself (its options or body), not the endpoint: every other
    // endpoint would refuse it too.
    if (isRequestFault(error)) {
      this.#stop(
        new RequestFailedError(
          this.#d.service,
          this.#attempts ?? [],
          this.#why(kind, error, 'not retried: undici refused the request itself, not the endpoint'),
          error,
        ),
      )
      return
    }
    // Another attempt of this hedged request is still in flight: it may yet answer.
    if (this.#othersInFlight(attempt)) {
      this.#hedgeNow()
      return
    }
    // Not started: undici never wrote the request, so any method may go elsewhere.
    const neverSent = !attempt.started && (this.#onceBody === null || !this.#onceBody.touched)
    const retryable =
      neverSent ||
      (this.#idempotentReplayable() &&
        ((kind === 'reset' && o.retryOnReset) ||
          (kind === 'timeout' && o.retryOnTimeout) ||
          kind === 'connect-refused' ||
          kind === 'connect-timeout'))
    if (!retryable) {
      const why = this.#idempotentReplayable()
        ? 'not a retryable failure'
        : 'not retried: the request may have reached the server and is not idempotent (or its body cannot be replayed)'
      this.#stop(
        new RequestFailedError(this.#d.service, this.#attempts ?? [], this.#why(kind, error, why), error),
      )
      return
    }
    const denial = this.#allowRetry(attempt, kind, error, undefined, 0)
    if (denial !== null) {
      this.#stop(denial)
      return
    }
    this.#retry(new RetryableAttempt(error, 0, neverSent))
  }

  /**
   * At a response's headers: true when its status is retried (the response is then set aside,
   * and returned as it is if no retry can be made after all).
   */
  retryOnStatus(
    attempt: AttemptHandler,
    controller: Controller,
    statusCode: number,
    headers: Record<string, unknown>,
    text: string | undefined,
  ): boolean {
    const o = this.#d.options
    if (!o.retryStatusCodes.has(statusCode) || this.#aborted || !this.#idempotentReplayable()) return false
    const retryAfter = parseRetryAfter(headers['retry-after'], Date.now())
    // While another attempt of a hedged request is in flight, a retryable status is not the
    // answer yet (gRPC's non-fatal status codes): set it aside and wait for the other attempt.
    if (!this.#othersInFlight(attempt)) {
      if (retryAfter > o.maxRetryAfter) return false
      if (this.#attemptCount > o.retries) return false
      const budget = this.#d.budget
      if (budget !== null && budget.available < 1) {
        this.#d.retriesDenied++
        return false
      }
      // Waiting out a Retry-After only to find no endpoint to retry on would hand the caller the
      // same answer that much later: return it now.
      if (!this.#canRetryElsewhere(attempt)) return false
    }
    this.#pendingRetryAfter = retryAfter
    this.#setAside = {
      statusCode,
      headers,
      text,
      rawHeaders: controller.rawHeaders ?? null,
      chunks: [],
      size: 0,
      trailers: null,
      rawTrailers: null,
    }
    return true
  }

  /** Whether the pool has an endpoint besides those tried (a pool without `pick` is taken to have one). */
  #canRetryElsewhere(attempt: AttemptHandler): boolean {
    const pool = this.#d.pool
    if (pool.pick === undefined) return true
    const exclude = (this.#attempts ?? []).map((a) => a.endpoint.id)
    exclude.push(attempt.endpoint.id)
    try {
      pool.pick({ ...this.#pick, exclude })
      return true
    } catch {
      return false
    }
  }

  buffer(chunk: Buffer): void {
    const kept = this.#setAside
    if (kept === null) return
    kept.size += chunk.length
    if (kept.size > SET_ASIDE_LIMIT) this.#setAside = null
    else kept.chunks.push(chunk)
  }

  /** The set-aside response ended (trailers) or broke (null): retry. */
  retryAfterStatus(
    attempt: AttemptHandler,
    controller: Controller,
    trailers: Record<string, unknown> | null,
  ): void {
    this.#record(attempt.endpoint, undefined, attempt.statusCode)
    const kept = this.#setAside
    if (kept !== null) {
      if (trailers === null) this.#setAside = null
      else {
        kept.trailers = trailers
        kept.rawTrailers = controller.rawTrailers ?? null
      }
    }
    if (this.#aborted) return
    if (this.#othersInFlight(attempt)) {
      this.#hedgeNow()
      return
    }
    const error = new RetryableStatusError(attempt.statusCode)
    // The budget was checked at the headers; other requests may have spent it since.
    const denial = this.#allowRetry(attempt, 'status', error, attempt.statusCode, this.#pendingRetryAfter)
    if (denial !== null) {
      this.#stop(denial)
      return
    }
    this.#retry(new RetryableAttempt(error, this.#pendingRetryAfter, false))
  }

  /**
   * Checks the retry count and that the budget has a retry left; null when the retry goes ahead.
   * The budget is drawn on only when the retry has an endpoint to go to (#next).
   */
  #allowRetry(
    attempt: AttemptHandler,
    kind: FailureKind,
    error: unknown,
    statusCode: number | undefined,
    retryAfter: number,
  ): Error | null {
    const d = this.#d
    if (this.#attemptCount > d.options.retries) {
      return new RequestFailedError(
        d.service,
        this.#attempts ?? [],
        this.#why(kind, error, `no retries left (retry.retries ${d.options.retries})`, statusCode),
        error,
      )
    }
    if (d.budget !== null && d.budget.available < 1) {
      d.retriesDenied++
      debug('%s: no retry after %s on %s: the retry budget is spent', d.service, kind, attempt.endpoint.id)
      return new RetryBudgetExhaustedError(d.service, this.#endpoints(), error)
    }
    d.retries++
    attempt.report(true)
    if (debug.enabled) {
      debug(
        '%s: retrying %s %s after %s on %s (attempt %d of %d)',
        d.service,
        this.#method,
        this.#opts.path,
        statusCode === undefined ? kind : `status ${statusCode}`,
        attempt.endpoint.id,
        this.#attemptCount,
        d.options.retries + 1,
      )
    }
    if (d.listenerCount('retry') > 0) {
      const event: Record<string, unknown> = {
        service: d.service,
        endpoint: attempt.endpoint,
        attempt: this.#attemptCount,
        kind,
        retryAfter,
      }
      if (error !== undefined) event.error = error
      if (statusCode !== undefined) event.statusCode = statusCode
      ;(d as NodeJS.EventEmitter).emit('retry', event as unknown as RetryEvent)
    }
    return null
  }

  /** The next attempt, on an endpoint not tried yet; throws FinalFailure when there is none. */
  #next(): Promise<void> {
    const d = this.#d
    if (d.endpointDispatchers.closed) {
      // destroy(): no new attempt, and no connection pool made after the others were closed.
      return Promise.reject(new FinalFailure(new ClosedError('HTTP client', d.service)))
    }
    const budget = d.budget
    // Other requests may have spent the budget during the backoff.
    if (budget !== null && !budget.tryRetry()) {
      d.retriesDenied++
      const last = this.#attempts?.[this.#attempts.length - 1]
      return Promise.reject(
        new FinalFailure(new RetryBudgetExhaustedError(d.service, this.#endpoints(), last?.error)),
      )
    }
    let lease: Lease
    try {
      const tried = (this.#attempts ?? []).map((a) => a.endpoint.id)
      lease = d.pool.acquire({ ...this.#pick, exclude: tried })
    } catch (cause) {
      budget?.refund()
      const last = this.#attempts?.[this.#attempts.length - 1]
      const why = `no other endpoint to retry on (${(cause as Error).message})`
      const what =
        last?.statusCode !== undefined
          ? `status ${last.statusCode}`
          : this.#why(classifyFailure(last?.error), last?.error, why).replace(/; .*$/, '')
      return Promise.reject(
        new FinalFailure(
          new RequestFailedError(d.service, this.#attempts ?? [], `${what}; ${why}`, last?.error ?? cause),
        ),
      )
    }
    return new Promise<void>((resolve, reject) => {
      this.#settle = { resolve, reject }
      this.#send(lease, performance.now(), false)
    })
  }

  #retry(failure: RetryableAttempt): void {
    // Every attempt of the race failed: from here on the request retries, one attempt at a time.
    this.#clearHedgeTimer()
    this.#racing = null
    if (this.#settle !== null) {
      const { reject } = this.#settle
      this.#settle = null
      reject(failure)
      return
    }
    // First failure: from here p-retry runs the attempts. Its first call replays this failure,
    // so that backoff, jitter and counting are all p-retry's.
    let replay: RetryableAttempt | null = failure
    const o = this.#d.options
    const retryAbort = new AbortController()
    this.#retryAbort = retryAbort
    pRetry(
      () => {
        if (replay === null) return this.#next()
        const first = replay
        replay = null
        return Promise.reject(first)
      },
      {
        retries: o.retries,
        minTimeout: o.minTimeout,
        maxTimeout: o.maxTimeout,
        factor: o.factor,
        randomize: o.randomize,
        signal: retryAbort.signal,
        // Ref'd, unlike the library's other timers: a request waiting out its backoff is work its
        // caller awaits, not idleness; unref'd, a script whose last request is retrying exits
        // silently with the request unanswered. Bounded by maxTimeout (and maxRetryAfter below).
        unref: false,
        shouldRetry: ({ error }) => error instanceof RetryableAttempt,
        // An immediate retry skips p-retry's backoff (not consuming one of its retries skips the
        // delay); #allowRetry has already counted it against retry.retries.
        shouldConsumeRetry: ({ error }) => !(error instanceof RetryableAttempt && error.immediate),
        onFailedAttempt: async ({ error }) => {
          if (error instanceof RetryableAttempt && error.retryAfter > 0) {
            await sleep(error.retryAfter, undefined, { signal: retryAbort.signal })
          }
        },
      },
    ).then(
      () => {
        this.#settle = null
      },
      (error: unknown) => {
        this.#settle = null
        if (this.#done) return
        if (this.#aborted) {
          this.#fail(new DeadlineExceededError(this.#d.service, this.#endpoints(), this.#reason))
        } else if (error instanceof FinalFailure) {
          this.#stop(error.error)
        } else if (error instanceof RetryableAttempt) {
          // p-retry ran out of retries (a retry was allowed but none is left): shouldn't happen,
          // as #allowRetry counts first; end with the attempt's cause.
          this.#stop(
            new RequestFailedError(this.#d.service, this.#attempts ?? [], 'retries exhausted', error.cause),
          )
        } else {
          this.#stop(error instanceof Error ? error : new Error(String(error)))
        }
      },
    )
  }

  #resolveSettle(): void {
    const settle = this.#settle
    if (settle === null) return
    this.#settle = null
    settle.resolve()
  }

  #rejectSettle(error: Error): void {
    const settle = this.#settle
    if (settle === null) return
    this.#settle = null
    settle.reject(new FinalFailure(error))
  }

  /**
   * Ends the request with an error: inside p-retry, by making it stop; outside, at once. A
   * retryable response set aside is returned instead, as the last answer a server gave.
   */
  #stop(error: Error): void {
    this.#clearHedgeTimer()
    if (this.#settle !== null) {
      this.#rejectSettle(error)
      return
    }
    const kept = this.#setAside
    if (kept !== null && kept.trailers !== null && !this.#aborted) {
      this.#replay(kept)
      return
    }
    this.#fail(error)
  }

  #replay(kept: SetAside): void {
    this.#setAside = null
    this.#committed = true
    this.#answered()
    this.rawHeaders = kept.rawHeaders
    const h = this.#handler
    this.#replaying = true
    // Not called from undici here (from a promise callback): a handler that throws gets its
    // error through onResponseError, as undici does, instead of an unhandled rejection.
    try {
      h.onResponseStart?.(this, kept.statusCode, kept.headers as never, kept.text)
      for (const chunk of kept.chunks) {
        if (this.#done || this.#aborted) return
        h.onResponseData?.(this, chunk)
      }
      if (this.#done || this.#aborted) return
      this.#finish()
      this.rawTrailers = kept.rawTrailers
      h.onResponseEnd?.(this, (kept.trailers ?? {}) as never)
    } catch (error) {
      this.#done = false
      this.#fail(error as Error)
    } finally {
      this.#replaying = false
    }
  }

  #fail(error: Error): void {
    if (this.#done) return
    this.#finish()
    this.#answered()
    this.#d.failures++
    this.#clearHedgeTimer()
    this.#detachRacing(null, error)
    this.#retryAbort?.abort(error)
    this.#handler.onResponseError?.(this, error)
  }

  #finish(): void {
    this.#done = true
    if (this.live) this.#d.unlink(this)
  }

  #answered(): void {
    if (!this.#entered) return
    this.#entered = false
    this.#d.leave()
  }

  #idempotentReplayable(): boolean {
    return this.#d.options.retryMethods.has(this.#method) && this.#onceBody === null
  }

  #record(endpoint: Endpoint, error: unknown, statusCode: number | undefined): void {
    const record: AttemptRecord =
      statusCode !== undefined
        ? { endpoint, statusCode }
        : error !== undefined
          ? { endpoint, error }
          : { endpoint }
    if (this.#attempts === null) this.#attempts = [record]
    else this.#attempts.push(record)
  }

  #endpoints(): ReadonlyArray<Endpoint> {
    const list = (this.#attempts ?? []).map((a) => a.endpoint)
    const current = this.#current?.endpoint
    if (current !== undefined && !list.includes(current)) list.push(current)
    for (const attempt of this.#racing ?? [])
      if (!list.includes(attempt.endpoint)) list.push(attempt.endpoint)
    return list
  }

  #why(kind: FailureKind, error: unknown, suffix: string, statusCode?: number): string {
    const what =
      statusCode !== undefined
        ? `status ${statusCode}`
        : `${kind} (${(error as { code?: string })?.code ?? (error as Error)?.message ?? 'unknown'})`
    return `${what}; ${suffix}`
  }
}

function stopLingering(attempt: AttemptHandler): void {
  attempt.stopLingering()
}

/** A hedge timer's callback: a function of its argument, so arming a timer makes no closure. */
function hedgeDue(request: BalancedRequest): void {
  request.hedgeDue()
}

function hedgeChecked(request: BalancedRequest): void {
  request.hedgeChecked()
}

/** The attempt waits for a connection to `endpointId`: dispatched there, not written, not over. */
function queuedOn(attempt: AttemptHandler, endpointId: string): boolean {
  return attempt.endpoint.id === endpointId && !attempt.started && !attempt.settled && !attempt.detached
}

/** A reason that says time ran out: a DOMException or Error named TimeoutError, or DeadlineExceededError. */
function isTimeoutReason(reason: unknown): boolean {
  if (reason instanceof DeadlineExceededError) return true
  return (
    typeof reason === 'object' && reason !== null && (reason as { name?: unknown }).name === 'TimeoutError'
  )
}

/**
 * The Fetch standard's method normalization: these six are sent upper-case however they were
 * written (a server answers `get` with 400); any other method goes as given, as fetch sends it.
 */
const NORMALIZED_METHODS: ReadonlyArray<string> = ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']

function normalizeMethod(method: unknown): Dispatcher.HttpMethod {
  if (typeof method !== 'string') return method as Dispatcher.HttpMethod
  const upper = method.toUpperCase()
  return (upper !== method && NORMALIZED_METHODS.includes(upper) ? upper : method) as Dispatcher.HttpMethod
}

/** undici's errors for a request it will not send anywhere (invalid options or headers, a wrong content-length). */
function isRequestFault(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return code === 'UND_ERR_INVALID_ARG' || code === 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH'
}

/** What undici sends chunk by chunk: streams, async iterables, and iterables (a generator can be read once). */
function isIterable(value: unknown): value is AsyncIterable<unknown> | Iterable<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    (typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function' ||
      typeof (value as Iterable<unknown>)[Symbol.iterator] === 'function')
  )
}
