import { performance } from 'node:perf_hooks'

/**
 * Caps retries at a share of recent requests, plus a small floor, as Finagle's RetryBudget and
 * Envoy's retry budgets do: when a whole service fails, every request failing once must not turn
 * into every request being sent `1 + retries` times (retry amplification).
 *
 * Recent means the last `window` ms, kept as ten time slots of counts (a sliding window with
 * one-tenth resolution): O(1) per call, no allocation after construction.
 */
export class RetryBudget {
  readonly #ratio: number
  readonly #minPerWindow: number
  readonly #slotMs: number
  readonly #now: () => number
  readonly #requests = new Float64Array(10)
  readonly #retries = new Float64Array(10)
  #slotStart = 0
  #slot = 0
  #requestSum = 0
  #retrySum = 0

  constructor(
    options: { ratio: number; minPerSecond: number; window: number },
    // Monotonic: a wall-clock step (NTP, a resumed VM) must neither refill nor freeze the budget.
    now?: () => number,
  ) {
    now ??= () => performance.now()
    this.#ratio = options.ratio
    this.#minPerWindow = (options.minPerSecond * options.window) / 1_000
    this.#slotMs = options.window / 10
    this.#now = now
    this.#slotStart = now()
  }

  /**
   * Counts one request (a first attempt). `now`: the time read from this budget's clock by the
   * caller, which has just read it for itself (one clock read per request, not two).
   */
  recordRequest(now: number = this.#now()): void {
    this.#advanceTo(now)
    this.#requests[this.#slot]! += 1
    this.#requestSum += 1
  }

  /** Takes one retry from the budget; false when the budget is spent (the retry must not happen). */
  tryRetry(): boolean {
    this.#advance()
    if (this.#retrySum + 1 > this.#ratio * this.#requestSum + this.#minPerWindow) return false
    this.#retries[this.#slot]! += 1
    this.#retrySum += 1
    return true
  }

  /**
   * Gives back a retry `tryRetry()` took, when it was not sent after all (no endpoint to go to,
   * or its request ended during the backoff): a retry that was not sent must not count. Taken
   * from the latest slot that holds one, which is the slot it was drawn in unless others were
   * drawn since; one already expired with its slot is not given back twice.
   */
  refund(): void {
    this.#advance()
    for (let i = 0, slot = this.#slot; i < 10; i++, slot = (slot + 9) % 10) {
      if (this.#retries[slot]! > 0) {
        this.#retries[slot]! -= 1
        this.#retrySum -= 1
        return
      }
    }
  }

  /** Retries still allowed right now. */
  get available(): number {
    this.#advance()
    return Math.max(0, Math.floor(this.#ratio * this.#requestSum + this.#minPerWindow - this.#retrySum))
  }

  #advance(): void {
    this.#advanceTo(this.#now())
  }

  #advanceTo(now: number): void {
    const elapsed = now - this.#slotStart
    if (elapsed < this.#slotMs) return
    // Expire the slots that have left the window (all ten when idle for a whole window).
    let steps = Math.min(10, Math.floor(elapsed / this.#slotMs))
    this.#slotStart += Math.floor(elapsed / this.#slotMs) * this.#slotMs
    while (steps-- > 0) {
      this.#slot = (this.#slot + 1) % 10
      this.#requestSum -= this.#requests[this.#slot]!
      this.#retrySum -= this.#retries[this.#slot]!
      this.#requests[this.#slot] = 0
      this.#retries[this.#slot] = 0
    }
  }
}
