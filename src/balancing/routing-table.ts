import type { EndpointState } from '../health/endpoint-state.js'
import type { SelectionPlan } from '../roles/roles.js'
import {
  SELECT_ANY,
  SELECT_NEAREST,
  SELECT_PRIMARY,
  SELECT_PRIMARY_PREFERRED,
  SELECT_REPLICA,
  SELECT_REPLICA_PREFERRED,
} from '../roles/roles.js'
import type { Balancer, Exclusions, PickContext } from './balancer.js'
import { isExcluded } from './balancer.js'
import type { BalancerName } from './balancing-options.js'
import { ConsistentHashBalancer } from './consistent-hash-balancer.js'
import { NearestBalancer } from './nearest-balancer.js'
import { RandomBalancer } from './random-balancer.js'
import { RoundRobinBalancer } from './round-robin-balancer.js'
import { LeastRequestBalancer, PeakEwmaBalancer } from './two-choice-balancer.js'

/**
 * Who may take a request now: the balancers of each group (any role, replicas, `nearest`), the
 * primary, and panic mode. `rebuild` runs when membership, health, stalls or roles change (rare,
 * may allocate); `select` runs per request (no allocation, no closures), as grpc-js's pickers.
 */
export class RoutingTable {
  /** Picks among endpoints of any role. The pool's option-less pick calls it directly. */
  readonly any: Balancer
  /** Picks among the replicas. */
  readonly replica: Balancer
  private readonly nearest: NearestBalancer
  private readonly panicThreshold: number
  /** The endpoint taking `role: 'primary'` (the first member with that role), if any. */
  primary: EndpointState | undefined = undefined
  /** Routing across all checked endpoints, fit or not, since too few are fit. */
  panic = false
  /** Fit endpoints at the last rebuild (healthy or on probation). */
  fit = 0
  /** Checked endpoints of the SRV priority level in use at the last rebuild: panic's denominator. */
  total = 0

  constructor(
    balancer: BalancerName,
    context: PickContext,
    panicThreshold: number,
    nearestThreshold: number,
  ) {
    this.any = createBalancer(balancer, context)
    this.replica = createBalancer(balancer, context)
    this.nearest = new NearestBalancer(context, nearestThreshold)
    this.panicThreshold = panicThreshold
  }

  /**
   * An endpoint for a request with options, by its selection plan; undefined when none is
   * eligible (the caller says why).
   */
  select(plan: SelectionPlan, key: string | undefined, exclude: Exclusions): EndpointState | undefined {
    switch (plan) {
      case SELECT_ANY:
        return this.any.pick(key, exclude)
      case SELECT_PRIMARY:
        return this.pickPrimary(exclude)
      case SELECT_REPLICA:
        return this.replica.pick(key, exclude)
      case SELECT_PRIMARY_PREFERRED:
        return this.pickPrimary(exclude) ?? this.replica.pick(key, exclude)
      case SELECT_REPLICA_PREFERRED:
        return this.replica.pick(key, exclude) ?? this.pickPrimary(exclude)
      case SELECT_NEAREST:
        return this.nearest.pick(exclude)
    }
  }

  private pickPrimary(exclude: Exclusions): EndpointState | undefined {
    const primary = this.primary
    if (primary === undefined || !primary.eligible) return undefined
    if (exclude !== undefined && isExcluded(primary, exclude)) return undefined
    return primary
  }

  /**
   * Rebuilds every group from the members' health, role, priority and stalls, setting each
   * member's `eligible`. The caller compares `panic` and `primary` before and after to tell
   * listeners.
   */
  rebuild(members: ReadonlyArray<EndpointState>): void {
    // `pending` endpoints (initialState 'unhealthy', not yet checked) count neither way and are
    // never routed to, even in panic: otherwise a fresh pool would panic and defeat the option.
    let fit = 0
    let fitLevel = Number.POSITIVE_INFINITY
    let checkedLevel = Number.POSITIVE_INFINITY
    for (const state of members) {
      if (state.health === 'pending') continue
      if (state.priority < checkedLevel) checkedLevel = state.priority
      if (state.health === 'healthy' || state.health === 'probation') {
        fit++
        if (state.priority < fitLevel) fitLevel = state.priority
      }
    }
    // The SRV priority level traffic goes to (below): the lowest with a fit endpoint, else the
    // lowest with a checked one. Its size is the panic threshold's denominator, and every fit
    // endpoint counts (all are at that level or a later one, where failover would send the
    // traffic): so a less-preferred level, even a dead one, never pushes the preferred level into
    // panic. With one level (CoreDNS: priority 0 for all) this is fit / all checked endpoints.
    const level = fitLevel === Number.POSITIVE_INFINITY ? checkedLevel : fitLevel
    let total = 0
    for (const state of members) if (state.health !== 'pending' && state.priority === level) total++
    // Envoy's panic threshold: with too few fit endpoints, spreading load over all of them beats
    // overloading the few (and the checks may be the ones that are wrong).
    const panic = this.panicThreshold > 0 && total > 0 && fit / total < this.panicThreshold
    // SRV priority (RFC 2782): each group (any role, replicas, nearest) is served by its lowest
    // priority level that has a fit endpoint, and fails over to the next level only when that one
    // has none (gRPC's priority LB). In panic, that level's unfit endpoints join it; when no level
    // has a fit endpoint, panic serves the lowest level that has any. Per-endpoint `eligible`
    // stays health-only: the primary is one endpoint, taken whatever its priority.
    const any = new LevelFinder()
    const replica = new LevelFinder()
    const nearest = new LevelFinder()
    let primary: EndpointState | undefined
    for (const state of members) {
      const fitNow = state.health === 'healthy' || state.health === 'probation'
      state.eligible = fitNow || (panic && state.health !== 'pending')
      if (state.role === 'primary' && primary === undefined) primary = state
      any.add(state, fitNow)
      if (state.role === 'replica') replica.add(state, fitNow)
      if (state.role !== 'unknown') nearest.add(state, fitNow)
    }
    const anyLevel = any.level()
    const replicaLevel = replica.level()
    this.nearest.update(members, nearest.level())
    // A balancer sees the members of its level only: consistent hashing places keys on them (and
    // tests `state.eligible`, which is true of fit endpoints at every level).
    // Stalled endpoints (StallDetector) are left out of a group's picks, unless every eligible
    // endpoint of the group is stalled: then all of them, as an endpoint that may answer late
    // beats none.
    const eligible: EndpointState[] = []
    const levelMembers: EndpointState[] = []
    const replicasEligible: EndpointState[] = []
    const replicas: EndpointState[] = []
    let stalledAny = false
    let stalledReplica = false
    for (const state of members) {
      if (state.priority === anyLevel) {
        levelMembers.push(state)
        if (state.eligible) {
          if (state.stalled === 0) eligible.push(state)
          else stalledAny = true
        }
      }
      if (state.role === 'replica' && state.priority === replicaLevel) {
        replicas.push(state)
        if (state.eligible) {
          if (state.stalled === 0) replicasEligible.push(state)
          else stalledReplica = true
        }
      }
    }
    if (stalledAny && eligible.length === 0) for (const s of levelMembers) if (s.eligible) eligible.push(s)
    if (stalledReplica && replicasEligible.length === 0) {
      for (const s of replicas) if (s.eligible) replicasEligible.push(s)
    }
    this.any.update(eligible, levelMembers)
    this.replica.update(replicasEligible, replicas)
    this.primary = primary
    this.panic = panic
    this.fit = fit
    this.total = total
  }

  /** Routes nothing from now on (the pool closed). */
  clear(): void {
    this.any.update([], [])
    this.replica.update([], [])
    this.nearest.update([], 0)
    this.primary = undefined
  }
}

/**
 * Finds a group's SRV priority level in one pass over its members: the lowest priority with a fit
 * endpoint, else (panic) the lowest with an eligible one, else the lowest of all, so that a group
 * with nothing eligible keeps the level (and consistent hashing its table) it would return to.
 */
class LevelFinder {
  private fit = Number.POSITIVE_INFINITY
  private eligible = Number.POSITIVE_INFINITY
  private lowest = Number.POSITIVE_INFINITY

  add(state: EndpointState, fit: boolean): void {
    const p = state.priority
    if (p < this.lowest) this.lowest = p
    if (fit) {
      if (p < this.fit) this.fit = p
    } else if (state.eligible && p < this.eligible) this.eligible = p
  }

  level(): number {
    return this.fit !== Number.POSITIVE_INFINITY
      ? this.fit
      : this.eligible !== Number.POSITIVE_INFINITY
        ? this.eligible
        : this.lowest
  }
}

function createBalancer(name: BalancerName, context: PickContext): Balancer {
  switch (name) {
    case 'round-robin':
      return new RoundRobinBalancer(context)
    case 'random':
      return new RandomBalancer(context)
    case 'least-request':
      return new LeastRequestBalancer(context)
    case 'peak-ewma':
      return new PeakEwmaBalancer(context)
    case 'consistent-hash':
      return new ConsistentHashBalancer(context)
  }
}
