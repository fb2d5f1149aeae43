import type { Dispatcher } from 'undici'
import type { Endpoint } from '../endpoint.js'
import { DeadlineExceededError } from '../errors.js'
import type { FailureKind, Lease } from '../lease.js'
import { classifyFailure } from './classify-failure.js'
import { HedgeLostError } from './hedge-policy.js'
import type { AnsweredLease } from './lease-pool.js'
import type { AttemptEndEvent, RequestEvents } from './request-events.js'
import { isRequestFault } from './retry-policy.js'

type Controller = Dispatcher.DispatchController

/**
 * The request an attempt belongs to (BalancedRequest), as the attempt sees it: the callbacks an
 * attempt forwards, and the request's state it reads. An interface, so that this file does not
 * import the request's.
 */
export interface AttemptOwner {
  readonly aborted: boolean
  readonly paused: boolean
  readonly reason: Error | null
  /** The request's clock (ms, monotonic). */
  now(): number
  /** That clock is performance.now(): a reading of it may go to the pool with the outcome. */
  readonly systemTime: boolean
  readonly service: string
  readonly method: string
  readonly path: string
  /** Emits `attempt-end`; null while it has no listener. */
  readonly attemptEndEvents: RequestEvents['attemptEnd']
  /** An informational response (1xx). */
  info(controller: Controller, statusCode: number, headers: Record<string, unknown>, text?: string): void
  /**
   * A final response's headers: the request either hands the response to its caller (false) or
   * sets it aside to retry elsewhere (true: the body then goes to `keep`).
   */
  responseStarted(
    attempt: AttemptHandler,
    controller: Controller,
    statusCode: number,
    headers: Record<string, unknown>,
    text: string | undefined,
  ): boolean
  upgraded(
    controller: Controller,
    statusCode: number,
    headers: Record<string, unknown>,
    socket: unknown,
  ): void
  data(controller: Controller, chunk: Buffer): void
  end(controller: Controller, trailers: Record<string, unknown>): void
  /** A body chunk of the response set aside. */
  keep(chunk: Buffer): void
  /** The response set aside ended (trailers) or its body broke (null): the request goes on. */
  setAsideEnded(
    attempt: AttemptHandler,
    controller: Controller,
    trailers: Record<string, unknown> | null,
  ): void
  /** The attempt failed without a response, or its response's body broke. */
  attemptFailed(attempt: AttemptHandler, error: Error, kind: FailureKind): void
  /** `attempt` stopped lingering (answered, aborted, or released). */
  lingered(attempt: AttemptHandler): void
}

/**
 * One attempt on one endpoint: the handler undici's per-endpoint Pool calls. It owns the lease
 * and releases it exactly once with the outcome. Once detached (the request was aborted, or
 * moved on), its callbacks no longer reach the caller.
 */
export class AttemptHandler implements Dispatcher.DispatchHandler {
  readonly request: AttemptOwner
  readonly lease: AnsweredLease
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
  /** Its response is set aside (a retryable status): the body is kept, not forwarded. */
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

  /** `start`: the clock's reading when the attempt began (the caller has just read it). */
  constructor(request: AttemptOwner, lease: Lease, start: number, hedge: boolean, number: number) {
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
      latency = this.request.now() - this.start
      this.latency = latency
    }
    if (!ok) {
      this.outcome = kind ?? 'other'
      this.error = error
    }
    if (ok) {
      // The pool's "now" for this outcome is the reading the latency was taken at (one clock read
      // per request fewer), when both sides read performance.now().
      const lease = this.lease
      if (lease.releaseAnswered !== undefined && this.request.systemTime) {
        lease.releaseAnswered(latency, this.start + latency)
      } else lease.release({ ok: true, latency })
    } else if (kind === undefined) this.lease.release({ ok: false, error, latency })
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
    const emit = this.request.attemptEndEvents
    if (emit === null) return
    const request = this.request
    const event: Record<string, unknown> = {
      service: request.service,
      endpoint: this.endpoint,
      attempt: this.number,
      method: request.method,
      path: request.path,
      outcome: this.outcome,
      statusCode: this.statusCode,
      latency: this.latency,
      willRetry,
    }
    if (this.error !== undefined) event.error = this.error
    emit(event as unknown as AttemptEndEvent)
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
      // Abandoned while queued (a lost hedge, a caller's abort): refuse it by throwing, which
      // undici turns into this request's error before writing anything. controller.abort() here
      // would destroy the connection while undici goes on writing, and on a pipelined HTTP/1.1
      // connection (undici 8.13) the next responses then reach the wrong requests: a request got
      // two or three response heads and its caller's body never ended (CHANGELOG.md, Fixed).
      throw this.detachReason ?? this.request.reason ?? new Error('attempt abandoned')
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
    this.request.upgraded(controller, statusCode, headers, socket)
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
        this.latency = this.request.now() - this.start
        this.statusCode = statusCode
        this.lease.responded?.()
      }
      return
    }
    if (statusCode < 200) {
      this.request.info(controller, statusCode, headers, text)
      return
    }
    this.latency = this.request.now() - this.start
    this.statusCode = statusCode
    // The endpoint answered: its lease no longer waits (stall detection), though a body may follow.
    this.lease.responded?.()
    this.swallow = this.request.responseStarted(this, controller, statusCode, headers, text)
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    if (this.detached) return
    if (this.swallow) this.request.keep(chunk)
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
    this.request.setAsideEnded(this, controller, trailers)
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
      this.request.setAsideEnded(this, controller, null)
    } else this.request.attemptFailed(this, error, kind)
    this.report(false)
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
}

function stopLingering(attempt: AttemptHandler): void {
  attempt.stopLingering()
}

/** A reason that says time ran out: a DOMException or Error named TimeoutError, or DeadlineExceededError. */
function isTimeoutReason(reason: unknown): boolean {
  if (reason instanceof DeadlineExceededError) return true
  return (
    typeof reason === 'object' && reason !== null && (reason as { name?: unknown }).name === 'TimeoutError'
  )
}
