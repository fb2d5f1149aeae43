import type { FailureKind } from '../lease.js'
import type { EndpointState } from './endpoint-state.js'
import type { ResolvedOutlierDetection } from './health-options.js'

/** Why outlier detection ejects an endpoint (the `reason` of an `eject` event). */
export type EjectReason = 'connect-refused' | 'probation' | 'consecutive-failures'

/**
 * Passive outlier detection, decided inline at the lease that crosses the line (no sweep
 * interval, unlike Envoy's): the health tracker records every failure and, when the detector
 * answers with a reason and `mayEject` allows, ejects for an `ejectionDuration`.
 */
export class OutlierDetector {
  readonly options: ResolvedOutlierDetection

  constructor(options: ResolvedOutlierDetection) {
    this.options = options
  }

  /**
   * Counts a failure on an endpoint and decides: the reason to eject it when this failure crosses
   * the line (any failure during probation, a refused connect when `ejectOnConnectRefused`, the
   * n-th consecutive failure), else undefined (disabled, already ejected, below the threshold).
   */
  recordFailure(state: EndpointState, kind: FailureKind | undefined): EjectReason | undefined {
    state.consecutiveFailures++
    if (!this.options.enabled || state.ejected) return undefined
    if (state.inProbation) return 'probation'
    if (kind === 'connect-refused' && this.options.ejectOnConnectRefused) return 'connect-refused'
    return state.consecutiveFailures >= this.options.consecutiveFailures ? 'consecutive-failures' : undefined
  }

  /** Never more than maxEjectionPercent of `total` at once, but one may always be ejected. */
  mayEject(ejectedNow: number, total: number): boolean {
    if (ejectedNow === 0) return true
    return ((ejectedNow + 1) * 100) / total <= this.options.maxEjectionPercent
  }
}

/**
 * The ejection level of an endpoint's next ejection, from its level so far and the time it has
 * stayed in since its last return (0 if it never returned): the level decays by one for every
 * `baseEjectionTime` in (as Envoy's ejection multiplier does), then this ejection adds one.
 */
export function nextEjectionLevel(
  options: ResolvedOutlierDetection,
  level: number,
  healthyFor: number,
): number {
  const decayed =
    level > 0 ? Math.max(0, level - Math.floor(Math.max(0, healthyFor) / options.baseEjectionTime)) : 0
  return decayed + 1
}

/**
 * How long the ejection at `level` lasts: base x 2^(level-1), plus `jitter` of it times `draw`
 * (uniform in [0, 1), the caller's random number), capped at maxEjectionTime. Pure.
 */
export function ejectionDuration(options: ResolvedOutlierDetection, level: number, draw: number): number {
  const { baseEjectionTime, maxEjectionTime, jitter } = options
  const base = Math.min(maxEjectionTime, baseEjectionTime * 2 ** Math.min(level - 1, 40))
  return Math.min(maxEjectionTime, base * (1 + jitter * draw))
}
