/**
 * Recent latencies as a log-bucketed histogram, for a percentile estimate that costs O(1) per
 * sample and no allocation: each bucket is 4 % wider than the one below (so an estimate is
 * within 4 % of the true value), from 0.05 ms to about two minutes.
 *
 * Recent means the last `window` ms, kept as two generations of `window / 2` each (the estimate
 * covers between half a window and a whole one), as Finagle's windowed histograms do: a change
 * in latency shows within half a window, and old samples leave without a per-sample timestamp.
 */
export class LatencyHistogram {
  readonly #half: number
  #current = new Uint32Array(BUCKETS)
  #previous = new Uint32Array(BUCKETS)
  #currentCount = 0
  #previousCount = 0
  #generationStart: number
  /** The percentile last computed, and how many samples ago; -1 when stale. */
  #cached = -1
  #cachedQuantile = -1
  #sinceComputed = 0

  /** `now`: the clock the caller passes to `record` and `percentile`, ms. */
  constructor(window: number, now: number) {
    this.#half = window / 2
    this.#generationStart = now
  }

  /** Samples in the window. */
  get count(): number {
    return this.#currentCount + this.#previousCount
  }

  record(latency: number, now: number): void {
    this.#rotate(now)
    this.#current[bucketOf(latency)]! += 1
    this.#currentCount++
    this.#sinceComputed++
  }

  /**
   * The `quantile` (0 to 1) of the latencies in the window, ms (the upper edge of its bucket),
   * or -1 when fewer than `minSamples` were recorded. Recomputed at most every 32 samples (a
   * scan of the buckets), and after a generation leaves.
   */
  percentile(quantile: number, minSamples: number, now: number): number {
    this.#rotate(now)
    const total = this.#currentCount + this.#previousCount
    if (total < minSamples) return -1
    if (this.#cached >= 0 && this.#cachedQuantile === quantile && this.#sinceComputed < 32)
      return this.#cached
    const rank = Math.max(1, Math.ceil(quantile * total))
    const current = this.#current
    const previous = this.#previous
    let seen = 0
    let bucket = 0
    for (; bucket < BUCKETS - 1; bucket++) {
      seen += current[bucket]! + previous[bucket]!
      if (seen >= rank) break
    }
    this.#cached = upperEdge(bucket)
    this.#cachedQuantile = quantile
    this.#sinceComputed = 0
    return this.#cached
  }

  #rotate(now: number): void {
    const elapsed = now - this.#generationStart
    if (elapsed < this.#half) return
    this.#cached = -1
    if (elapsed >= 2 * this.#half) {
      // Idle for a whole window: both generations are too old.
      this.#current.fill(0)
      this.#previous.fill(0)
      this.#currentCount = 0
      this.#previousCount = 0
      this.#generationStart = now
      return
    }
    const oldest = this.#previous
    this.#previous = this.#current
    this.#previousCount = this.#currentCount
    oldest.fill(0)
    this.#current = oldest
    this.#currentCount = 0
    this.#generationStart += this.#half
  }
}

const SMALLEST = 0.05
const GROWTH = 1.04
const LOG_GROWTH = Math.log(GROWTH)
/** 0.05 ms x 1.04^400 is about 130 s: any longer latency lands in the last bucket. */
const BUCKETS = 401

function bucketOf(latency: number): number {
  if (!(latency > SMALLEST)) return 0
  const bucket = Math.ceil(Math.log(latency / SMALLEST) / LOG_GROWTH)
  return bucket < BUCKETS ? bucket : BUCKETS - 1
}

function upperEdge(bucket: number): number {
  return SMALLEST * GROWTH ** bucket
}
