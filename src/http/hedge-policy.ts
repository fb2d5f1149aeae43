import type { ResolvedHedgeOptions } from './client-options.js'
import { LatencyHistogram } from './latency-histogram.js'

/**
 * How long past 10 s a latency still counts toward a percentile delay: long enough for a stable
 * p99 at a few hundred requests a second, short enough that a service that got slower (a deploy,
 * a busy node) stops being hedged at its old, faster percentile within seconds.
 */
const LATENCY_WINDOW = 10_000

/**
 * A lost race's attempt (sent, unanswered) may still answer for this many times the hedge delay,
 * and at least MIN_LINGER ms, before it is aborted: stall detection's defaults
 * (`latencyMultiplier` 10, `minStallTime` 100 ms), so that an endpoint far slower than its peers
 * shows as such to the pool (in flight, then stalled or a censored latency of the whole linger)
 * rather than as an attempt that vanished a few milliseconds after it was sent. Measured
 * (bench/hedging.ts, one slow pod of 5): without it, the slow pod kept 1.8 % of first attempts
 * with peak-EWMA and 7 % with least-request (each of them a hedged request); with it, 0.03-0.2 %
 * and 0.3-0.8 % (docs/performance.md).
 */
const LINGER_MULTIPLIER = 10
const MIN_LINGER = 100

/**
 * When a client hedges its requests: the delay before each hedge (fixed, or a percentile of the
 * client's recent latencies), and how many attempts a request may make in all. One per
 * dispatcher; each BalancedRequest schedules its own hedges from it.
 *
 * Latencies recorded are those of the attempts that answered (time to the response headers from
 * that attempt's start), not the request's: a hedge that won after `delay` must not push the next
 * delay out by `delay` (which would grow without bound while one pod is slow), and a loser's
 * latency (if it answers while it lingers) is the slow tail itself: it goes to the pool, for the
 * balancer, not here. So a percentile delay tracks how long a first answer takes.
 */
export class HedgePolicy {
  readonly maxAttempts: number
  readonly #delay: number
  readonly #quantile: number
  readonly #minDelay: number
  /** Samples a percentile needs first: two above it (40 for p95, 200 for p99), and at least 20. */
  readonly #minSamples: number
  readonly #histogram: LatencyHistogram | null

  constructor(options: ResolvedHedgeOptions, now: number) {
    this.maxAttempts = options.maxAttempts
    this.#delay = options.delay
    this.#quantile = options.percentile
    this.#minDelay = options.minDelay
    this.#minSamples = options.delay >= 0 ? 0 : Math.max(20, Math.ceil(2 / (1 - options.percentile)))
    this.#histogram = options.delay >= 0 ? null : new LatencyHistogram(LATENCY_WINDOW, now)
  }

  /**
   * Milliseconds to wait for an answer before the next hedge; -1 for no hedge (a percentile
   * delay with too few latencies measured yet: a guess would hedge a cold client's every request).
   */
  delay(now: number): number {
    if (this.#histogram === null) return this.#delay
    const estimate = this.#histogram.percentile(this.#quantile, this.#minSamples, now)
    return estimate < 0 ? -1 : Math.max(this.#minDelay, estimate)
  }

  /** How long a lost race's attempt may still answer, for a race that hedged after `delay` ms. */
  linger(delay: number): number {
    return Math.max(MIN_LINGER, LINGER_MULTIPLIER * delay)
  }

  /** An attempt answered after `latency` ms (read at `now`). */
  record(latency: number, now: number): void {
    this.#histogram?.record(latency, now)
  }
}

/** The reason a losing attempt is aborted with: the request got its answer elsewhere. */
export class HedgeLostError extends Error {
  readonly code = 'HLB_ERR_HEDGE_LOST'
  constructor() {
    super('another attempt of this hedged request answered first')
  }
}
