import { debuglog } from 'node:util'
import type { Endpoint } from '../endpoint.js'
import { ClosedError, RequestFailedError, RetryBudgetExhaustedError } from '../errors.js'
import type { FailureKind, Lease, PickOptions } from '../lease.js'
import type { AttemptHandler } from './attempt-handler.js'
import { AttemptLog } from './attempt-log.js'
import type { HedgeRace } from './hedge-race.js'
import type { RequestContext } from './request-context.js'
import type { RetryEvent } from './request-events.js'
import { parseRetryAfter } from './retry-after.js'
import {
  type AttemptFailure,
  describeFailure,
  explainNoRetry,
  isRequestFault,
  type NoRetryReason,
  RetryableStatusError,
  type RetryDecision,
} from './retry-policy.js'

const debug = debuglog('headless-lb')

/** The request the retries belong to (BalancedRequest), as they see it. */
export interface RetryOwner {
  readonly attemptCount: number
  readonly method: string
  readonly path: string
  readonly pick: PickOptions
  /** The request's body can be sent again (it is not a stream). */
  readonly bodyReplayable: boolean
  /** Some of a one-shot body was read: the request may have reached a server. */
  readonly bodyTouched: boolean
  readonly race: HedgeRace | null
  /** Ended, or aborted: a retry due now is not made. */
  readonly over: boolean
  /** Every endpoint this request went to (for RetryBudgetExhaustedError). */
  endpoints(): ReadonlyArray<Endpoint>
  /** Ends the request with `error` (or the response set aside). */
  stop(error: Error): void
  /** Sends the retry to `lease`'s endpoint. */
  sendRetry(lease: Lease, now: number): void
}

/**
 * The failed attempts of one request and what follows them: the attempt loop's half that runs
 * only after a failure (made at the first one, so that a request answered at once carries none of
 * it). It asks the RetryPolicy once per failed attempt and acts on the answer: draws the retry
 * from the budget (given back if the attempt never goes out), waits its delay on the context's
 * clock, and sends it to an endpoint not tried yet; or ends the request with the error that says
 * why not.
 */
export class RequestRetries {
  readonly log = new AttemptLog()
  readonly #owner: RetryOwner
  readonly #ctx: RequestContext
  /** A retry was decided: the request retries (and is no longer hedged). */
  retrying = false
  /** `Retry-After` of the response being set aside (read once, at its headers), ms. */
  retryAfter = 0
  /** Retries so far that waited out a backoff (the policy's exponent). */
  #backoffs = 0
  /** A retry drawn from the budget that has not gone out yet. */
  #held = false
  /** A retry decided at a set-aside response's headers, made once its body has ended. */
  #decided: RetryDecision | null = null
  /** The clock's timer handle, or true while the retry waits for a microtask. */
  #timer: unknown = null

  constructor(owner: RetryOwner, ctx: RequestContext) {
    this.#owner = owner
    this.#ctx = ctx
  }

  /**
   * At a final response's headers (its status retried for this method and body): true when it is
   * to be set aside and retried, false when it goes to the caller. While another attempt of a
   * hedged request is in flight, a retryable status is not the answer yet (gRPC's non-fatal status
   * codes): it is set aside and the other attempt waited for, without asking the policy yet.
   */
  atStatus(attempt: AttemptHandler, statusCode: number, headers: Record<string, unknown>): boolean {
    // Wall-clock time: an HTTP-date is.
    this.retryAfter = parseRetryAfter(headers['retry-after'], Date.now())
    if (this.#owner.race?.othersInFlight(attempt) === true) return true
    const decision = this.#decide(statusFailure(statusCode), true, this.retryAfter)
    if (!decision.retry) {
      if (decision.why === 'budget') this.#ctx.counters.retriesDenied++
      return false
    }
    // Waiting out a Retry-After only to find no endpoint to retry on would hand the caller the
    // same answer that much later: return it now.
    if (!this.#canRetryElsewhere(attempt)) return false
    this.#decided = decision
    this.#hold()
    return true
  }

  /** The attempt failed without a response (before the response started: after, it is the caller's). */
  afterError(attempt: AttemptHandler, error: Error, kind: FailureKind): void {
    this.log.record(attempt.endpoint, error, undefined)
    if (this.#owner.over) return
    // Another attempt of this hedged request is still in flight: it may yet answer. (Unless
    // undici refused the request itself: every endpoint would refuse it too.)
    const race = this.#owner.race
    if (!isRequestFault(error) && race?.othersInFlight(attempt) === true) {
      race.hedgeNow()
      return
    }
    this.failed(attempt, { kind, error }, 0)
  }

  /** The response set aside has ended (or its body broke). */
  afterStatus(attempt: AttemptHandler): void {
    this.log.record(attempt.endpoint, undefined, attempt.statusCode)
    if (this.#owner.over) return
    const race = this.#owner.race
    if (race?.othersInFlight(attempt) === true) {
      // A hedge went out while this body was read: the race goes on, and no retry is made.
      this.#decided = null
      this.giveBack()
      race.hedgeNow()
      return
    }
    this.failed(attempt, statusFailure(attempt.statusCode), this.retryAfter)
  }

  /**
   * Asks the policy once about a failed attempt, and acts: a retry after its delay, or the end of
   * the request (`decided`: the answer already given at a set-aside response's headers).
   */
  failed(attempt: AttemptHandler, failure: AttemptFailure, retryAfter: number): void {
    const decision = this.#decided ?? this.#decide(failure, attempt.started, retryAfter)
    this.#decided = null
    const owner = this.#owner
    if (!decision.retry) {
      owner.stop(this.#noRetry(attempt, failure, decision.why))
      return
    }
    owner.race?.stop()
    this.retrying = true
    this.#hold()
    const ctx = this.#ctx
    ctx.counters.retries++
    attempt.report(true)
    if (debug.enabled) {
      const what = failure.statusCode === undefined ? failure.kind : `status ${failure.statusCode}`
      const of = `attempt ${owner.attemptCount} of ${ctx.policy.retries + 1}`
      debug(
        '%s: retrying %s %s after %s on %s (%s)',
        ctx.service,
        owner.method,
        owner.path,
        what,
        attempt.endpoint.id,
        of,
      )
    }
    ctx.events.retry?.(retryEvent(ctx.service, attempt.endpoint, owner.attemptCount, failure, retryAfter))
    this.#schedule(decision.delayMs, decision.immediate)
  }

  /** The retry will not go out: it must not count against the budget. */
  giveBack(): void {
    if (!this.#held) return
    this.#held = false
    this.#ctx.budget?.refund()
  }

  /** The request ended: no retry is due any more. */
  cancel(): void {
    const timer = this.#timer
    if (timer !== null) {
      this.#timer = null
      if (timer !== true) this.#ctx.clock.clearTimeout(timer)
    }
    this.giveBack()
  }

  #decide(failure: AttemptFailure, started: boolean, retryAfter: number): RetryDecision {
    const owner = this.#owner
    const budget = this.#ctx.budget
    return this.#ctx.policy.decide(failure, {
      attempt: owner.attemptCount,
      backoffs: this.#backoffs,
      method: owner.method,
      sent: started || owner.bodyTouched,
      bodyReplayable: owner.bodyReplayable,
      retryAfter,
      budget: budget === null ? Number.POSITIVE_INFINITY : budget.available,
    })
  }

  /** The error a request ends with when the policy says no retry. */
  #noRetry(attempt: AttemptHandler, failure: AttemptFailure, why: NoRetryReason): Error {
    const ctx = this.#ctx
    if (why === 'budget') {
      ctx.counters.retriesDenied++
      debug(
        '%s: no retry after %s on %s: the retry budget is spent',
        ctx.service,
        failure.kind,
        attempt.endpoint.id,
      )
      return new RetryBudgetExhaustedError(ctx.service, this.#owner.endpoints(), failure.error)
    }
    const reason = `${describeFailure(failure)}; ${explainNoRetry(why, ctx.policy.retries)}`
    return new RequestFailedError(ctx.service, this.log.records, reason, failure.error)
  }

  /** Draws the retry from the budget (the policy saw one left on this reading: it cannot fail). */
  #hold(): void {
    if (this.#held) return
    if (this.#ctx.budget?.tryRetry() === true) this.#held = true
  }

  #schedule(delayMs: number, immediate: boolean): void {
    if (!immediate) this.#backoffs++
    if (delayMs > 0) {
      // Ref'd, unlike the library's other timers: a request waiting out its backoff is work its
      // caller awaits, not idleness; unref'd, a script whose last request is retrying exits
      // silently with the request unanswered. Bounded by maxTimeout (and maxRetryAfter).
      this.#timer = this.#ctx.clock.setTimeout(() => this.#due(), delayMs, { ref: true })
    } else {
      // Not from inside the failed attempt's callback: undici is still unwinding it.
      this.#timer = true
      queueMicrotask(() => {
        if (this.#timer === true) this.#due()
      })
    }
  }

  /** The retry's delay is over: the next attempt, on an endpoint not tried yet. */
  #due(): void {
    this.#timer = null
    const owner = this.#owner
    if (owner.over) return
    const ctx = this.#ctx
    if (ctx.connections.closed) {
      // destroy(): no new attempt, and no connection pool made after the others were closed.
      owner.stop(new ClosedError('HTTP client', ctx.service))
      return
    }
    let lease: Lease
    try {
      const tried: string[] = []
      this.log.triedIds(tried)
      lease = ctx.pool.acquire({ ...owner.pick, exclude: tried })
    } catch (cause) {
      const log = this.log
      const why = `${log.describeLast()}; no other endpoint to retry on (${(cause as Error).message})`
      owner.stop(new RequestFailedError(ctx.service, log.records, why, log.lastError ?? cause))
      return
    }
    this.#held = false
    owner.sendRetry(lease, ctx.clock.now())
  }

  /** Whether the pool has an endpoint besides those tried (a pool without `pick` is taken to have one). */
  #canRetryElsewhere(attempt: AttemptHandler): boolean {
    const pool = this.#ctx.pool
    if (pool.pick === undefined) return true
    const exclude: string[] = [attempt.endpoint.id]
    this.log.triedIds(exclude)
    try {
      pool.pick({ ...this.#owner.pick, exclude })
      return true
    } catch {
      return false
    }
  }
}

function statusFailure(statusCode: number): AttemptFailure {
  return { kind: 'status', statusCode, error: new RetryableStatusError(statusCode) }
}

/** The `retry` event's payload (the error and status only when there are). */
function retryEvent(
  service: string,
  endpoint: Endpoint,
  attempt: number,
  failure: AttemptFailure,
  retryAfter: number,
): RetryEvent {
  const event: Record<string, unknown> = { service, endpoint, attempt, kind: failure.kind, retryAfter }
  if (failure.error !== undefined) event.error = failure.error
  if (failure.statusCode !== undefined) event.statusCode = failure.statusCode
  return event as unknown as RetryEvent
}
