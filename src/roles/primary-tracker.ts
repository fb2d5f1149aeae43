import type { ResolvedPrimary } from '../balancing/balancing-options.js'
import type { EndpointRole, EndpointState } from '../health/endpoint-state.js'
import type { Clock } from '../internal/clock.js'
import type { PoolControl } from '../pool/pool-control.js'
import { PrimaryProber } from './primary-prober.js'
import type { ProbedRole } from './roles.js'
import { choosePrimary } from './roles.js'

/** The `primary: { probe }` option, resolved. */
export type ProbedPrimary = Extract<ResolvedPrimary, { kind: 'probe' }>

/**
 * Roles found by probing (`primary: { probe }`): runs the PrimaryProber, remembers each
 * endpoint's last answer and since when it has claimed to be primary, and arbitrates between
 * claimants with the pure `choosePrimary`. It asks the pool for a rebuild after each answer
 * (through PoolControl) and sets the members' roles when the pool rebuilds.
 */
export class PrimaryTracker {
  private readonly probed = new Map<EndpointState, { role: EndpointRole; primarySince: number }>()
  private readonly prober: PrimaryProber
  private readonly clock: Clock
  private readonly control: PoolControl
  private closed = false

  constructor(
    options: ProbedPrimary,
    clock: Clock,
    members: () => ReadonlyArray<EndpointState>,
    control: PoolControl,
  ) {
    this.clock = clock
    this.control = control
    this.prober = new PrimaryProber(options, clock, members, (state, role) => this.onProbeResult(state, role))
  }

  /** Probes every member soon (members changed, or a lease on the primary failed). */
  requestSoon(): void {
    this.prober.requestSoon()
  }

  /**
   * Forgets what a probe said of `state`: it was removed, or moved to a new address (a new server
   * behind an old name, to be probed afresh).
   */
  forget(state: EndpointState): void {
    this.probed.delete(state)
  }

  /** Roles under a probe: the chosen primary; other claimants are `unknown` (never replicas). */
  applyRoles(members: ReadonlyArray<EndpointState>): void {
    const probed: ProbedRole[] = []
    for (const state of members) {
      const p = this.probed.get(state)
      if (p) probed.push({ id: state.id, role: p.role, primarySince: p.primarySince })
    }
    const primaryId = choosePrimary(probed)
    for (const state of members) {
      const role = this.probed.get(state)?.role ?? 'unknown'
      state.role = state.id === primaryId ? 'primary' : role === 'primary' ? 'unknown' : role
    }
  }

  /** Stops probing; late answers are dropped. Idempotent. */
  close(): void {
    this.closed = true
    this.prober.close()
  }

  private onProbeResult(state: EndpointState, role: 'primary' | 'replica' | 'unknown'): void {
    if (this.closed || state.removed) return
    const previous = this.probed.get(state)
    // A failed probe (`unknown`) is no news about the role, so it keeps the endpoint's seniority as
    // primary: an old primary not yet fenced whose probe timed out once during the failover must not
    // then look newer than the promoted standby. Only a `replica` answer ends the run.
    const since = previous !== undefined && previous.primarySince > 0 ? previous.primarySince : 0
    const primarySince =
      role === 'replica' ? 0 : role === 'unknown' ? since : since > 0 ? since : this.clock.now()
    this.probed.set(state, { role, primarySince })
    this.control.requestRebuild()
  }
}
