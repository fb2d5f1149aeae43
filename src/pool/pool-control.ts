import type { EndpointHealth, EndpointState } from '../health/endpoint-state.js'
import type { EjectEvent, HealthChangeReason } from './pool-events.js'

/**
 * What the pool's parts (health tracker, primary tracker) may ask of the pool: the only way a
 * child reaches its parent. Modelled on grpc-js's ChannelControlHelper (a load balancer never
 * calls the channel, only the functions it was handed), so a part can be built and tested alone
 * with a recording fake, and never sees Pool.
 *
 * Every call comes after the part has updated the endpoint's state; the pool rebuilds its
 * routing before it tells listeners, so a listener that throws cannot leave pickers stale.
 */
export interface PoolControl {
  /** `state.health` changed from `previous` (the reason is the `health` event's). */
  healthChanged(state: EndpointState, previous: EndpointHealth, reason: HealthChangeReason): void
  /** Outlier detection ejected `state` (its health is already `ejected`; it was `previous`). */
  ejected(state: EndpointState, event: EjectEvent, previous: EndpointHealth): void
  /** An active check finished (not a transition: healthChanged follows when it is one). */
  checked(state: EndpointState, passed: boolean, error: unknown): void
  /** Stall detection changed the `stalled` flag of `transitions`; `interval` is its sweep period. */
  stallsChanged(transitions: ReadonlyArray<EndpointState>, interval: number): void
  /** Whether any endpoint ramps up now (slow start, probation): picks then read the clock. */
  rampingChanged(ramping: boolean): void
  /** Something the routing table reads changed without a health transition (roles, probes). */
  requestRebuild(): void
}
