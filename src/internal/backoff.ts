/**
 * Exponential backoff with jitter for DNS errors, after grpc-js' backoff-timeout.ts: the delay
 * starts at `initial`, is multiplied by `multiplier` per failure up to `max`, and each delay is
 * spread by +/- `jitter` so that a fleet of clients does not retry in lockstep.
 */
export class Backoff {
  readonly #initial: number
  readonly #max: number
  readonly #multiplier: number
  readonly #jitter: number
  readonly #random: () => number
  #next: number

  constructor(options: {
    initial: number
    max: number
    multiplier?: number
    jitter?: number
    random: () => number
  }) {
    this.#initial = options.initial
    this.#max = options.max
    // gRPC's connection backoff constants (multiplier 1.6, jitter 0.2).
    this.#multiplier = options.multiplier ?? 1.6
    this.#jitter = options.jitter ?? 0.2
    this.#random = options.random
    this.#next = this.#initial
  }

  /** The delay before the next retry; each call backs off further. */
  nextDelay(): number {
    const base = this.#next
    this.#next = Math.min(this.#next * this.#multiplier, this.#max)
    const spread = base * this.#jitter * (this.#random() * 2 - 1)
    return Math.min(this.#max, Math.max(this.#initial, base + spread))
  }

  reset(): void {
    this.#next = this.#initial
  }
}
