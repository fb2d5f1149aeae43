/** A race waiting for its hedge (HedgeRace), as the timers see it: a node of their queue. */
export interface HedgeWaiter {
  /** When the hedge is due, ms on performance.now()'s time base. */
  dueAt: number
  waitPrev: HedgeWaiter | null
  waitNext: HedgeWaiter | null
  /** The queue it waits in (its delay's); null when it does not wait. */
  waitQueue: object | null
  /** Queued (not due yet, not cancelled): `waitQueue !== null`. */
  readonly waiting: boolean
  /** The hedge is due: no answer came in time. */
  due(): void
}

/** The waiters of one delay, oldest first: each joins at the tail, so they are in due order. */
interface DelayQueue {
  head: HedgeWaiter | null
  tail: HedgeWaiter | null
}

/**
 * The hedge timers of one dispatcher: one Node timer for every request waiting for its hedge,
 * instead of a setTimeout and a clearTimeout per request. Requests wait in one FIFO queue per
 * delay, as Node's own timer lists do (a percentile delay changes every few dozen answers, so a
 * few delays are in use at a time): joining one is O(1) and keeps it in due order, whatever the
 * delays of the others. Most requests leave their queue (answered in time) long before they are
 * due. The timer is armed for the earliest head and, when it fires, hands every race that is due
 * to its hedge and re-arms for the next: at most one timer callback per millisecond, where the
 * per-request timers cost a timer's allocation, list insert and removal on every request
 * (docs/performance.md, "Hedge timers").
 *
 * The timer is left armed when the head leaves early (it then fires, finds nothing due, and
 * re-arms or stops): cheaper than re-arming on every answer. A hedge is never sent before it is
 * due on performance.now(). Unref'd: an attempt in flight keeps the process alive, the timer
 * alone must not. close() clears it.
 */
export class HedgeTimers {
  readonly #queues = new Map<number, DelayQueue>()
  #timer: NodeJS.Timeout | null = null
  /** When the armed timer fires, ms (performance.now() base); Infinity when none is armed. */
  #timerAt = Number.POSITIVE_INFINITY
  #closed = false

  /** Races waiting for their hedge. */
  get size(): number {
    let n = 0
    for (const queue of this.#queues.values()) for (let w = queue.head; w !== null; w = w.waitNext) n++
    return n
  }

  /** A Node timer is armed (for tests: none may be left after close()). */
  get armed(): boolean {
    return this.#timer !== null
  }

  /** `waiter`'s hedge is due `delay` ms after `now` (performance.now()). */
  add(waiter: HedgeWaiter, delay: number, now: number): void {
    if (this.#closed) return
    if (waiter.waitQueue !== null) this.remove(waiter)
    let queue = this.#queues.get(delay)
    if (queue === undefined) {
      queue = { head: null, tail: null }
      this.#queues.set(delay, queue)
    }
    const dueAt = now + delay
    waiter.dueAt = dueAt
    waiter.waitQueue = queue
    waiter.waitPrev = queue.tail
    waiter.waitNext = null
    if (queue.tail === null) queue.head = waiter
    else queue.tail.waitNext = waiter
    queue.tail = waiter
    if (dueAt < this.#timerAt) this.#arm(dueAt, now)
  }

  /** `waiter` no longer waits (answered, failed, aborted, or hedged). */
  remove(waiter: HedgeWaiter): void {
    if (waiter.waitQueue === null) return
    const queue = waiter.waitQueue as DelayQueue
    waiter.waitQueue = null
    const { waitPrev, waitNext } = waiter
    if (waitPrev === null) queue.head = waitNext
    else waitPrev.waitNext = waitNext
    if (waitNext === null) queue.tail = waitPrev
    else waitNext.waitPrev = waitPrev
    waiter.waitPrev = null
    waiter.waitNext = null
  }

  /** The dispatcher closed: nothing is hedged any more, and no timer is left. */
  close(): void {
    this.#closed = true
    for (const queue of this.#queues.values()) while (queue.head !== null) this.remove(queue.head)
    this.#queues.clear()
    this.#clear()
  }

  /** @internal The timer fired: every race due gets its hedge, then the timer follows the next. */
  fire(): void {
    this.#timer = null
    this.#timerAt = Number.POSITIVE_INFINITY
    // The global, not node:perf_hooks' export: the unit test fakes globalThis.performance.
    const now = performance.now()
    let next = Number.POSITIVE_INFINITY
    for (const [delay, queue] of this.#queues) {
      for (let w = queue.head; w !== null && w.dueAt <= now; w = queue.head) {
        this.remove(w)
        w.due()
      }
      // A delay no longer in use leaves the map (its queue is made again if it comes back).
      if (queue.head === null) this.#queues.delete(delay)
      else if (queue.head.dueAt < next) next = queue.head.dueAt
    }
    if (next !== Number.POSITIVE_INFINITY && !this.#closed) this.#arm(next, now)
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
