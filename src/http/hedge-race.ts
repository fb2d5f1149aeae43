import type { Lease, PickOptions } from '../lease.js'
import type { AttemptHandler } from './attempt-handler.js'
import { HedgeLostError } from './hedge-policy.js'
import type { HedgeWaiter } from './hedge-timers.js'
import type { RequestContext } from './request-context.js'

/** The request a race belongs to (BalancedRequest), as the race sees it. */
export interface RaceOwner {
  /** The first attempt is still racing: not answered, failed over to retries, aborted or ended. */
  readonly racePending: boolean
  /** Attempts sent so far. */
  readonly attemptCount: number
  /** The attempt sent last. */
  readonly current: AttemptHandler | null
  readonly pick: PickOptions
  /** Ids of the endpoints attempts have ended on (they are not hedged to). */
  triedIds(into: string[]): void
  /** Sends the request to `lease`'s endpoint as a hedge (the race counts it in). */
  sendHedge(lease: Lease, now: number): void
}

/**
 * The hedges of one request (`hedge` option: hedge-policy.ts decides when; the race is run here):
 * after the policy's delay without an answer, the same request also goes to an endpoint no attempt
 * has gone to yet; the first attempt to answer wins, and the others are cancelled. Made only for
 * a request that may be hedged (idempotent, replayable body, no upgrade), so that the others
 * carry none of its fields.
 *
 * It waits for its hedge in the dispatcher's HedgeTimers (one Node timer for every request, not
 * the context's Clock: the setImmediate step below is Node's, which a Clock does not have).
 */
export class HedgeRace implements HedgeWaiter {
  readonly #owner: RaceOwner
  readonly #ctx: RequestContext
  /** Every attempt of the race once a hedge went out (the first included); null until then. */
  #racing: AttemptHandler[] | null = null
  /** Once the hedge is due: the immediate that sends it after the poll phase. */
  #immediate: NodeJS.Immediate | null = null
  /** @internal HedgeWaiter: its place in the dispatcher's HedgeTimers. */
  dueAt = 0
  waitPrev: HedgeWaiter | null = null
  waitNext: HedgeWaiter | null = null
  waitQueue: object | null = null
  /** What the pending hedge timer waits, ms (for the `hedge` event). */
  #delay = 0

  constructor(owner: RaceOwner, ctx: RequestContext) {
    this.#owner = owner
    this.#ctx = ctx
  }

  /** @internal HedgeWaiter: waiting in the dispatcher's HedgeTimers. */
  get waiting(): boolean {
    return this.waitQueue !== null
  }

  /** A hedge went out: the request's attempts race (informational responses are not forwarded). */
  get racing(): boolean {
    return this.#racing !== null
  }

  /** Every attempt of the race (the first included) once a hedge went out; null until then. */
  get attempts(): ReadonlyArray<AttemptHandler> | null {
    return this.#racing
  }

  /** An attempt was sent: it joins the race, if one runs. */
  add(attempt: AttemptHandler): void {
    this.#racing?.push(attempt)
  }

  /** Schedules the next hedge, if the policy has a delay and attempts are left. */
  arm(now: number): void {
    const policy = this.#ctx.hedge
    if (policy === null || this.#owner.attemptCount >= policy.maxAttempts || !this.#owner.racePending) return
    const delay = policy.delay(now)
    if (delay < 0) return
    this.#delay = delay
    this.#ctx.hedgeTimers?.add(this, delay, this.#ctx.systemTime ? now : performance.now())
  }

  /**
   * @internal The hedge timer fired. Timers run before the event loop reads sockets: on a busy
   * loop, the answer may already be waiting in the socket. The hedge goes out after the poll
   * phase (setImmediate), so that such an answer wins without a hedge. Measured (bench/hedging.ts,
   * peak-ewma, one slow pod, a CPU-bound client): 24 % of requests wanted a hedge at p95 without
   * this, 7 % with it.
   */
  due(): void {
    this.#immediate = setImmediate(hedgeChecked, this).unref()
  }

  /** @internal The poll phase after the hedge timer is over, and no answer came. */
  checked(): void {
    this.#immediate = null
    this.#hedge()
  }

  /**
   * An attempt failed while another is in flight: send the next hedge now rather than after the
   * rest of its delay (gRPC does the same after a non-fatal status).
   */
  hedgeNow(): void {
    if (!this.waiting && this.#immediate === null) return
    this.clearTimer()
    this.#hedge()
  }

  /** Another attempt of this request has not ended yet. */
  othersInFlight(attempt: AttemptHandler): boolean {
    const racing = this.#racing
    if (racing === null) return false
    for (const a of racing) if (a !== attempt && !a.settled && !a.detached) return true
    return false
  }

  /** `attempt` answered: the policy learns its latency, and every other attempt in flight is cancelled. */
  won(attempt: AttemptHandler): void {
    this.clearTimer()
    if (attempt.latency >= 0) this.#ctx.hedge?.record(attempt.latency, attempt.start + attempt.latency)
    if (this.#racing === null) return
    if (attempt.hedge) this.#ctx.counters.hedgesWon++
    this.cancel(attempt, new HedgeLostError())
  }

  /** Every attempt in flight but `winner` (null: the request ended) is cancelled; the race is over. */
  cancel(winner: AttemptHandler | null, reason: Error): void {
    const racing = this.#racing
    if (racing === null) return
    this.#racing = null
    const ctx = this.#ctx
    const linger = winner === null || ctx.inFlight.closed ? 0 : (ctx.hedge?.linger(this.#delay) ?? 0)
    for (const a of racing) {
      if (a === winner || a.settled) continue
      if (linger > 0 && a.started && a.latency < 0) {
        a.linger(reason, linger)
        ctx.inFlight.lingering.add(a)
      } else a.detach(reason)
    }
  }

  /** Every attempt of the race failed: from here on the request retries, one attempt at a time. */
  stop(): void {
    this.clearTimer()
    this.#racing = null
  }

  /** Adds the racing attempts' endpoints not in `list` yet. */
  endpoints(list: Array<AttemptHandler['endpoint']>): void {
    for (const attempt of this.#racing ?? [])
      if (!list.includes(attempt.endpoint)) list.push(attempt.endpoint)
  }

  clearTimer(): void {
    if (this.waiting) this.#ctx.hedgeTimers?.remove(this)
    const immediate = this.#immediate
    if (immediate === null) return
    clearImmediate(immediate)
    this.#immediate = null
  }

  /**
   * Sends the same request to an endpoint no attempt has gone to yet. A hedge is a retry for the
   * budget (so hedging adds at most `retry.budget.ratio` of load); without budget, or without
   * another endpoint, no hedge goes out and the attempts in flight carry on.
   */
  #hedge(): void {
    const owner = this.#owner
    if (!owner.racePending) return
    const ctx = this.#ctx
    if (ctx.connections.closed) return
    const budget = ctx.budget
    if (budget !== null && !budget.tryRetry()) {
      ctx.counters.hedgesDenied++
      return
    }
    const current = owner.current
    const outstanding = this.#racing ?? (current === null ? [] : [current])
    const tried: string[] = []
    for (const a of outstanding) tried.push(a.endpoint.id)
    owner.triedIds(tried)
    let lease: Lease
    try {
      lease = ctx.pool.acquire({ ...owner.pick, exclude: tried })
    } catch {
      // No other endpoint (one pod, the rest ejected or tried): wait for the attempts in flight.
      budget?.refund()
      return
    }
    this.#racing ??= [...outstanding]
    ctx.counters.hedges++
    ctx.events.hedge?.({
      service: ctx.service,
      endpoint: lease.endpoint,
      attempt: owner.attemptCount + 1,
      delay: this.#delay,
      outstanding: outstanding.filter((a) => !a.settled).map((a) => a.endpoint),
    })
    const now = ctx.clock.now()
    owner.sendHedge(lease, now)
    this.arm(now)
  }
}

/** The immediate's callback: a function of its argument, so it makes no closure. */
function hedgeChecked(race: HedgeRace): void {
  race.checked()
}
