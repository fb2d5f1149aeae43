import type { EndpointState } from '../health/endpoint-state.js'
import type { Balancer, Exclusions, PickContext } from './balancer.js'
import { admits, isExcluded } from './balancer.js'
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

  /** Lower is better. */
  protected abstract cost(state: EndpointState): number

  pick(_key: string | undefined, exclude: Exclusions): EndpointState | undefined {
    const eligible = this.eligible
    const n = eligible.length
    if (n === 0) return undefined
    const random = this.context.random
    if (n === 1) {
      const only = eligible[0]!
      return exclude === undefined || !isExcluded(only, exclude) ? only : undefined
    }
    const i = Math.floor(random() * n)
    let j = Math.floor(random() * (n - 1))
    if (j >= i) j++
    let a: EndpointState | undefined = eligible[i]!
    let b: EndpointState | undefined = eligible[j]!
    if (exclude !== undefined) {
      if (isExcluded(a, exclude)) a = undefined
      if (isExcluded(b, exclude)) b = undefined
    }
    if (a !== undefined && a.rampEnd !== 0 && !admits(a, this.context)) a = b === undefined ? a : undefined
    if (b !== undefined && b.rampEnd !== 0 && !admits(b, this.context)) b = a === undefined ? b : undefined
    if (a === undefined) return b ?? scanFrom(eligible, i, exclude)
    if (b === undefined) return a
    return this.cost(b) < this.cost(a) ? b : a
  }
}

/** Least request: P2C on the number of in-flight leases (Envoy's LEAST_REQUEST). */
export class LeastRequestBalancer extends TwoChoiceBalancer {
  protected cost(state: EndpointState): number {
    return state.inFlight
  }
}

/**
 * Peak EWMA (Finagle, Linkerd): P2C on latency x (in-flight + 1). The latency average jumps to a
 * slower observation at once and decays toward 0 with time constant `ewma.decay` (10 s), so an
 * endpoint that was slow gets traffic again after a while. The 1 µs floor keeps in-flight counts
 * meaningful before any latency is known.
 */
export class PeakEwmaBalancer extends TwoChoiceBalancer {
  protected cost(state: EndpointState): number {
    const elapsed = this.context.now - state.ewmaStamp
    const ewma = elapsed > 0 ? state.ewma * Math.exp(-elapsed / this.context.ewmaDecay) : state.ewma
    return (ewma + 0.001) * (state.inFlight + 1)
  }
}
