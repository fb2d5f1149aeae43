import type { FailureKind } from '../lease.js'
import type { EndpointState } from './endpoint-state.js'
import type { ResolvedOutlierDetection } from './health-options.js'

/**
 * Passive outlier detection, decided inline at the lease that crosses the line (no sweep
 * interval, unlike Envoy's): the pool asks `shouldEject` after every failure and, when it says
 * so and `mayEject` allows, ejects for `ejectionTime`.
 */
export class OutlierDetector {
  readonly options: ResolvedOutlierDetection
  private readonly random: () => number

  constructor(options: ResolvedOutlierDetection, random: () => number) {
    this.options = options
    this.random = random
  }

  /**
   * Counts a failure on a (non-ejected) endpoint and says whether it crosses the threshold:
   * the n-th consecutive failure, a refused connect when `ejectOnConnectRefused`, or any failure
   * during probation.
   */
  shouldEject(state: EndpointState, kind: FailureKind | undefined): boolean {
    state.consecutiveFailures++
    if (!this.options.enabled || state.ejected) return false
    if (state.inProbation) return true
    if (kind === 'connect-refused' && this.options.ejectOnConnectRefused) return true
    return state.consecutiveFailures >= this.options.consecutiveFailures
  }

  /** Never more than maxEjectionPercent of `total` at once, but one may always be ejected. */
  mayEject(ejectedNow: number, total: number): boolean {
    if (ejectedNow === 0) return true
    return ((ejectedNow + 1) * 100) / total <= this.options.maxEjectionPercent
  }

  /**
   * Length of the ejection starting at `now`: base x 2^(level-1), with the level decaying by one
   * for every `baseEjectionTime` the endpoint stayed in since its last return (as Envoy's
   * ejection multiplier does), plus up to `jitter` of it at random, capped at maxEjectionTime.
   * Advances the endpoint's level.
   */
  ejectionTime(state: EndpointState, now: number): number {
    const { baseEjectionTime, maxEjectionTime, jitter } = this.options
    if (state.ejectionLevel > 0 && state.returnedAt > 0) {
      const healthyFor = Math.max(0, now - state.returnedAt)
      state.ejectionLevel = Math.max(0, state.ejectionLevel - Math.floor(healthyFor / baseEjectionTime))
    }
    state.ejectionLevel++
    const base = Math.min(maxEjectionTime, baseEjectionTime * 2 ** Math.min(state.ejectionLevel - 1, 40))
    return Math.min(maxEjectionTime, base * (1 + jitter * this.random()))
  }
}
