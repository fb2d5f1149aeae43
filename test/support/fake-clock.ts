import type { Clock } from '../../src/internal/clock.js'

interface FakeTimer {
  readonly at: number
  readonly callback: () => void
}

/**
 * A manual clock for unit tests: timers fire only when the test advances time, in the order they
 * are due (timers they set fire too, if due). `advance` is synchronous, for code whose timers do
 * their work at once (the pool); `advanceAndSettle` lets promise chains and I/O callbacks settle
 * before and after each timer, for code that awaits between timers (discovery, resolvers).
 */
export class FakeClock implements Clock {
  /** Now, in ms. Assign to move time without firing timers. */
  time: number
  readonly #timers = new Map<number, FakeTimer>()
  #nextId = 1

  constructor(start = 1_000) {
    this.time = start
  }

  now(): number {
    return this.time
  }

  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.#nextId++
    this.#timers.set(id, { at: this.time + ms, callback })
    return id
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number)
  }

  /** How many timers are set and not yet fired or cleared (0 after a clean close()). */
  get pending(): number {
    return this.#timers.size
  }

  /** When the earliest timer is due, relative to now; undefined when none is set. */
  nextDelay(): number | undefined {
    let min: number | undefined
    for (const t of this.#timers.values()) if (min === undefined || t.at < min) min = t.at
    return min === undefined ? undefined : min - this.time
  }

  /** Moves time forward by `ms`, firing due timers in order, synchronously. */
  advance(ms: number): void {
    const end = this.time + ms
    for (let next = this.#due(end); next; next = this.#due(end)) this.#fire(next)
    this.time = end
  }

  /** Moves time forward by `ms` like `advance`, letting promises and I/O settle around each timer. */
  async advanceAndSettle(ms: number): Promise<void> {
    const end = this.time + ms
    await flush()
    for (let next = this.#due(end); next; next = this.#due(end)) {
      this.#fire(next)
      await flush()
    }
    this.time = end
  }

  #due(end: number): [number, FakeTimer] | undefined {
    let next: [number, FakeTimer] | undefined
    for (const entry of this.#timers)
      if (entry[1].at <= end && (!next || entry[1].at < next[1].at)) next = entry
    return next
  }

  #fire([id, timer]: [number, FakeTimer]): void {
    this.#timers.delete(id)
    this.time = Math.max(this.time, timer.at)
    timer.callback()
  }
}

/** Lets pending promise callbacks and I/O callbacks run: a few turns of the event loop. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve))
}
