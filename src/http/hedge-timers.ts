/** A race waiting for its hedge (HedgeRace), as the timers see it: a node of their queue. */
export interface HedgeWaiter {
  /** When the hedge is due, ms on performance.now()'s time base. */
  dueAt: number
  waitPrev: HedgeWaiter | null
  waitNext: HedgeWaiter | null
  /** Queued (not due yet, not cancelled). */
  waiting: boolean
  /** The hedge is due: no answer came in time. */
  due(): void
}

/**
 * The hedge timers of one dispatcher: one Node timer for every request waiting for its hedge,
 * instead of a setTimeout and a clearTimeout per request. Requests wait in a queue sorted by
 * when their hedge is due; hedges are due a fixed or slowly changing delay after each request
 * starts, so a new one almost always goes at the tail, and most leave it (answered in time) long
 * before they are due. The timer is armed for the head and, when it fires, hands every race that
 * is due to its hedge and re-arms for the next: at most one timer callback per millisecond, where
 * the per-request timers cost a timer's allocation, list insert and removal on every request
 * (docs/performance.md, "Hedge timers").
 *
 * The timer is left armed when the head leaves early (it then fires, finds nothing due, and
 * re-arms or stops): cheaper than re-arming on every answer. Unref'd: an attempt in flight keeps
 * the process alive, the timer alone must not. close() clears it.
 */
export class HedgeTimers {
  #head: HedgeWaiter | null = null
  #tail: HedgeWaiter | null = null
  #timer: NodeJS.Timeout | null = null
  /** When the armed timer fires, ms (performance.now() base); Infinity when none is armed. */
  #timerAt = Number.POSITIVE_INFINITY
  #closed = false

  /** Races waiting for their hedge. */
  get size(): number {
    let n = 0
    for (let w = this.#head; w !== null; w = w.waitNext) n++
    return n
  }

  /** A Node timer is armed (for tests: none may be left after close()). */
  get armed(): boolean {
    return this.#timer !== null
  }

  /** `waiter`'s hedge is due `delay` ms after `now` (performance.now()). */
  add(waiter: HedgeWaiter, delay: number, now: number): void {
    if (this.#closed) return
    const dueAt = now + delay
    waiter.dueAt = dueAt
    waiter.waiting = true
    // Sorted by dueAt, searched from the tail: a delay that is the same for every request (or
    // shrinks only now and then) puts each new waiter last.
    let before = this.#tail
    while (before !== null && before.dueAt > dueAt) before = before.waitPrev
    const after = before === null ? this.#head : before.waitNext
    waiter.waitPrev = before
    waiter.waitNext = after
    if (before === null) this.#head = waiter
    else before.waitNext = waiter
    if (after === null) this.#tail = waiter
    else after.waitPrev = waiter
    if (dueAt < this.#timerAt) this.#arm(dueAt, now)
  }

  /** `waiter` no longer waits (answered, failed, aborted, or hedged). */
  remove(waiter: HedgeWaiter): void {
    if (!waiter.waiting) return
    waiter.waiting = false
    const { waitPrev, waitNext } = waiter
    if (waitPrev === null) this.#head = waitNext
    else waitPrev.waitNext = waitNext
    if (waitNext === null) this.#tail = waitPrev
    else waitNext.waitPrev = waitPrev
    waiter.waitPrev = null
    waiter.waitNext = null
  }

  /** The dispatcher closed: nothing is hedged any more, and no timer is left. */
  close(): void {
    this.#closed = true
    while (this.#head !== null) this.remove(this.#head)
    this.#clear()
  }

  /** @internal The timer fired: every race due gets its hedge, then the timer follows the next. */
  fire(): void {
    this.#timer = null
    this.#timerAt = Number.POSITIVE_INFINITY
    const now = performance.now()
    for (let w = this.#head; w !== null && w.dueAt <= now; w = this.#head) {
      this.remove(w)
      w.due()
    }
    const next = this.#head
    if (next !== null && !this.#closed) this.#arm(next.dueAt, now)
  }

  #arm(at: number, now: number): void {
    this.#clear()
    this.#timerAt = at
    // Node's timers have millisecond resolution and fire no earlier than asked: 1 ms at least.
    this.#timer = setTimeout(hedgeTimersFired, Math.max(1, at - now), this).unref()
  }

  #clear(): void {
    if (this.#timer === null) return
    clearTimeout(this.#timer)
    this.#timer = null
    this.#timerAt = Number.POSITIVE_INFINITY
  }
}

/** The timer's callback: a function of its argument, so arming it makes no closure. */
function hedgeTimersFired(timers: HedgeTimers): void {
  timers.fire()
}
