import type { EndpointState } from '../health/endpoint-state.js'
import type { Balancer, Exclusions, PickContext } from './balancer.js'
import { admits, isExcluded } from './balancer.js'
import { secondRank } from './p2c.js'
import { scanFrom } from './random-balancer.js'

/**
 * Power of two choices (Mitzenmacher): draw two distinct eligible endpoints at random and take
 * the one with the lower cost. Near the load spread of "least loaded of all" at O(1), and without
 * the herding a strict minimum causes when many clients see the same numbers.
 */
export abstract class TwoChoiceBalancer implements Balancer {
  private eligible: ReadonlyArray<EndpointState> = []
  protected readonly context: PickContext

  constructor(context: PickContext) {
    this.context = context
  }

  update(eligible: ReadonlyArray<EndpointState>, _members?: ReadonlyArray<EndpointState>): void {
    this.eligible = eligible
  }

  /** Whether `a` costs less than `b`. */
  protected abstract better(a: EndpointState, b: EndpointState): boolean

  pick(_key: string | undefined, exclude: Exclusions): EndpointState | undefined {
    const eligible = this.eligible
    const n = eligible.length
    if (n === 0) return undefined
    if (n === 1) {
      const only = eligible[0]!
      return exclude === undefined || !isExcluded(only, exclude) ? only : undefined
    }
    // Both draws from one 32-bit random number (see secondRank).
    const x = this.context.random() * n
    const i = x | 0
    const j = secondRank(x, i, n)
    let a: EndpointState | undefined = eligible[i]!
    let b: EndpointState | undefined = eligible[j]!
    if (exclude === undefined && (a.ramping | b.ramping) === 0) return this.better(b, a) ? b : a
    if (exclude !== undefined) {
      if (isExcluded(a, exclude)) a = undefined
      if (isExcluded(b, exclude)) b = undefined
    }
    if (a !== undefined && a.ramping !== 0 && !admits(a, this.context)) a = b === undefined ? a : undefined
    if (b !== undefined && b.ramping !== 0 && !admits(b, this.context)) b = a === undefined ? b : undefined
    if (a === undefined) return b ?? scanFrom(eligible, i, exclude)
    if (b === undefined) return a
    return this.better(b, a) ? b : a
  }
}

/** Least request: P2C on the number of in-flight leases (Envoy's LEAST_REQUEST). */
export class LeastRequestBalancer extends TwoChoiceBalancer {
  protected better(a: EndpointState, b: EndpointState): boolean {
    return a.inFlight < b.inFlight
  }
}

/**
 * Two latency averages within this factor of each other are alike: the pick goes by in-flight
 * count, as least-request's. A peak-sensitive average keeps a one-off slow answer (a connect, a
 * pause) for about `ewma.decay`, so between healthy pods it differs by noise, and comparing noise
 * made P2C favour whichever pod had the luckier samples. Measured (bench/scenario-skew.ts, busiest
 * pod over its fair share, 4 healthy pods, one client and a fleet of 5; docs/balancing.md): plain
 * comparison 1.016-1.064; factor 1.5 up to 1.040; 2 up to 1.093 (2 of 7 fleet runs over 1.05);
 * 3 up to 1.019; 4 up to 1.015, but a hung pod then got new requests up to 1.3 s after it hung
 * (its wait, censored into its average, must pass 4x its peers'), against at most 0.63 s with 3.
 * A sick pod is far outside the band soon: a 2 s pod is 100x its peers.
 */
const ALIKE_LATENCY_RATIO = 3

/**
 * Peak EWMA (Finagle, Linkerd): P2C on latency x (in-flight + 1). The latency average jumps to a
 * slower observation at once and decays toward 0 with time constant `ewma.decay` (10 s), so an
 * endpoint that was slow gets traffic again after a while. Endpoints whose averages are within
 * ALIKE_LATENCY_RATIO (3x) of each other compete on in-flight count alone (fairness; see above).
 *
 * Decaying two averages to the present multiplies both by e^(-now/decay), which cancels out of
 * the comparison (of costs and of the ratio); so the pick compares `ewmaScaled` (the average
 * scaled to a fixed epoch, kept by the pool) with no clock read and no exp. An endpoint with no
 * latency yet competes on in-flight count alone.
 */
export class PeakEwmaBalancer extends TwoChoiceBalancer {
  protected better(a: EndpointState, b: EndpointState): boolean {
    if (a.ewma === 0 || b.ewma === 0) return a.inFlight < b.inFlight
    const latencyA = a.ewmaScaled
    const latencyB = b.ewmaScaled
    if (latencyA < latencyB * ALIKE_LATENCY_RATIO && latencyB < latencyA * ALIKE_LATENCY_RATIO) {
      return a.inFlight < b.inFlight
    }
    return latencyA * (a.inFlight + 1) < latencyB * (b.inFlight + 1)
  }
}
