import type { EndpointState } from '../health/endpoint-state.js'
import type { Exclusions, PickContext } from './balancer.js'
import { admits, isExcluded } from './balancer.js'
import { secondRank } from './p2c.js'

/**
 * MongoDB's `nearest` server selection: the eligible primary and replicas of the preferred SRV
 * priority level whose EWMA latency is within `threshold` ms of the lowest (its
 * `localThresholdMS` window), then power of two choices on in-flight leases among those, so
 * `nearest` traffic spreads over every endpoint about as close instead of piling onto one. An
 * endpoint with no latency sample yet is inside the window: it gets traffic, and so a sample,
 * without winning every pick as a latency of 0 would.
 *
 * The window moves with every release, so it is found at pick time, by allocation-free scans
 * (this is not the default path): the lowest latency, the window's size, then the two drawn
 * members. Latencies are compared as `ewmaScaled` x one decay factor (one exp per pick, not one
 * each).
 */
export class NearestBalancer {
  private readonly context: PickContext
  private readonly threshold: number
  private members: ReadonlyArray<EndpointState> = []
  /** The SRV priority level `nearest` chooses in (see RoutingTable). */
  private level = 0

  constructor(context: PickContext, threshold: number) {
    this.context = context
    this.threshold = threshold
  }

  /** `members`: every member of the pool, in member order; `level`: the priority level to serve. */
  update(members: ReadonlyArray<EndpointState>, level: number): void {
    this.members = members
    this.level = level
  }

  pick(exclude: Exclusions): EndpointState | undefined {
    const members = this.members
    const n = members.length
    const context = this.context
    const factor = Math.exp((context.ewmaEpoch - context.now) / context.ewmaDecay)
    let lowest = Number.POSITIVE_INFINITY
    for (let i = 0; i < n; i++) {
      const state = members[i]!
      if (state.ewmaStamp === 0 || !this.candidate(state, exclude)) continue
      const latency = state.ewmaScaled * factor
      if (latency < lowest) lowest = latency
    }
    // No sample anywhere: every candidate is in (Infinity + threshold stays Infinity).
    const limit = lowest + this.threshold
    let count = 0
    for (let i = 0; i < n; i++) if (this.inWindow(members[i]!, exclude, factor, limit)) count++
    if (count === 0) return undefined
    let a: EndpointState | undefined
    let b: EndpointState | undefined
    if (count === 1) {
      for (let i = 0; i < n && a === undefined; i++) {
        if (this.inWindow(members[i]!, exclude, factor, limit)) a = members[i]!
      }
      return a
    }
    // Two distinct ranks from one random number, as the P2C balancers draw them.
    const x = context.random() * count
    const first = x | 0
    const second = secondRank(x, first, count)
    for (let i = 0, rank = 0; i < n && (a === undefined || b === undefined); i++) {
      const state = members[i]!
      if (!this.inWindow(state, exclude, factor, limit)) continue
      if (rank === first) a = state
      else if (rank === second) b = state
      rank++
    }
    // A ramping endpoint (slow start, probation) takes a pick only with its current share.
    if (a!.ramping !== 0 && !admits(a!, context)) return b
    if (b!.ramping !== 0 && !admits(b!, context)) return a
    return b!.inFlight < a!.inFlight ? b : a
  }

  private candidate(state: EndpointState, exclude: Exclusions): boolean {
    return (
      state.eligible &&
      state.role !== 'unknown' &&
      state.priority === this.level &&
      (exclude === undefined || !isExcluded(state, exclude))
    )
  }

  private inWindow(state: EndpointState, exclude: Exclusions, factor: number, limit: number): boolean {
    return this.candidate(state, exclude) && (state.ewmaStamp === 0 || state.ewmaScaled * factor <= limit)
  }
}
