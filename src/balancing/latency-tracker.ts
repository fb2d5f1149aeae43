import type { EndpointState } from '../health/endpoint-state.js'
import { decayedEwma } from '../health/endpoint-state.js'
import type { PickContext } from './balancer.js'

/**
 * Each endpoint's peak-EWMA latency (Finagle): a slower observation replaces the average at once;
 * a faster one pulls it down with weight exp(-elapsed / decay), so the average forgets over
 * ~`ewma.decay` ms. Observations are taken at `context.now`, which the pool refreshes before it
 * calls in (the tracker never reads a clock).
 *
 * Also keeps the epoch-scaled twin, ewma x e^((now - epoch) / decay), which is what peak-EWMA
 * picks compare: decaying both candidates to the present multiplies both by the same factor, so
 * the pick needs no clock and no exp. The epoch moves forward before the factor could overflow
 * (e^709), rescaling every endpoint once.
 */
export class LatencyTracker {
  private readonly context: PickContext
  private readonly states: ReadonlyMap<string, EndpointState>

  /** `states`: every endpoint the pool knows, for the rare rescaling to a new epoch. */
  constructor(context: PickContext, states: ReadonlyMap<string, EndpointState>) {
    this.context = context
    this.states = states
  }

  /** Records a latency observed at `context.now`. */
  observe(state: EndpointState, latency: number): void {
    const context = this.context
    const now = context.now
    const decay = context.ewmaDecay
    if (now - context.ewmaEpoch > 600 * decay) this.rebase()
    // One exp per observation: the weight of the old average, e^((stamp - now) / decay), is the
    // ratio of the two observations' scales (each e^((t - epoch) / decay)), and this one's scale
    // is also what the epoch-scaled twin is multiplied by.
    const scale = Math.exp((now - context.ewmaEpoch) / decay)
    if (state.ewmaStamp === 0 || latency > state.ewma) state.ewma = latency
    else {
      const w = state.ewmaStampScale / scale
      state.ewma = state.ewma * w + latency * (1 - w)
    }
    state.ewmaStamp = now
    state.ewmaStampScale = scale
    state.ewmaScaled = state.ewma * scale
  }

  /**
   * A censored latency: the endpoint took at least `latency` ms and has not answered (a lost
   * hedge, a stalled request). Raises the average if higher; a lower bound never lowers it.
   */
  observeAtLeast(state: EndpointState, latency: number): void {
    if (latency > decayedEwma(state, this.context.now, this.context.ewmaDecay)) this.observe(state, latency)
  }

  /**
   * Starts a newcomer at the mean latency of the endpoints that have one, so peak-EWMA does not
   * flood it before it has its own (a newcomer with no sample would look fastest of all).
   */
  seed(state: EndpointState): void {
    const now = this.context.now
    let sum = 0
    let n = 0
    for (const s of this.states.values()) {
      if (s !== state && s.ewmaStamp > 0) {
        sum += decayedEwma(s, now, this.context.ewmaDecay)
        n++
      }
    }
    if (n > 0) this.observe(state, sum / n)
  }

  /** The average at `now`, decayed since the last observation (for stats). */
  current(state: EndpointState, now: number): number {
    return decayedEwma(state, now, this.context.ewmaDecay)
  }

  private rebase(): void {
    const context = this.context
    context.ewmaEpoch = context.now
    for (const s of this.states.values()) {
      // An average older than the epoch by far underflows to 0: its weight at the next
      // observation is 0 then, as e^(-elapsed / decay) is for any practical purpose.
      s.ewmaStampScale = Math.exp((s.ewmaStamp - context.ewmaEpoch) / context.ewmaDecay)
      s.ewmaScaled = s.ewma * s.ewmaStampScale
    }
  }
}
