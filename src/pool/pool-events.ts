import type { BalancerName } from '../balancing/balancing-options.js'
import type { ResolutionEvent } from '../discovery/endpoint-source.js'
import type { Endpoint, EndpointChange } from '../endpoint.js'
import type { EndpointHealth, EndpointRole } from '../health/endpoint-state.js'

/**
 * What changed an endpoint's health: an active check failed or passed, outlier detection ejected
 * it, its ejection ended (`returned`: on probation), its probation ended, or it was rescheduled
 * to a new address (`address-changed`: back to the initial state).
 */
export type HealthChangeReason =
  | 'check-failed'
  | 'check-passed'
  | 'ejected'
  | 'returned'
  | 'probation-ended'
  | 'address-changed'

/** `health` event: an endpoint's health changed. */
export interface HealthEvent {
  readonly endpoint: Endpoint
  readonly state: EndpointHealth
  readonly previous: EndpointHealth
  readonly reason: HealthChangeReason
}

/**
 * `stall` event: stall detection stopped sending an endpoint requests (`stalled: true`: it has sat
 * on requests without answering for `waited` ms, far longer than its peers take), or it answered
 * or has nothing left waiting (`stalled: false`).
 */
export interface StallEvent {
  readonly endpoint: Endpoint
  readonly stalled: boolean
  /** ms the endpoint had requests waiting without answering anything, as the sweep measured it (0 when `stalled` is false). */
  readonly waited: number
}

/** `eject` event: outlier detection ejected an endpoint. */
export interface EjectEvent {
  readonly endpoint: Endpoint
  /** Milliseconds this ejection lasts. */
  readonly duration: number
  /** How many times this endpoint has been ejected, this one included. */
  readonly ejections: number
  /** `connect-refused` (ejected on the first refusal), `probation` (failed during probation) or `consecutive-failures`. */
  readonly reason: 'connect-refused' | 'probation' | 'consecutive-failures'
  /** The failure that crossed the line, as the caller gave it. */
  readonly error: unknown
}

/** `panic` event: panic mode began (`panic: true`) or ended. */
export interface PanicEvent {
  readonly panic: boolean
  /** Endpoints fit for traffic (healthy or on probation). */
  readonly healthy: number
  /**
   * Endpoints (checked, not `pending`) of the SRV priority level in use: all of them when they
   * share one priority, as from CoreDNS.
   */
  readonly total: number
}

/** `check` event: one active health check finished (not a transition: see `health` for those). */
export interface CheckEvent {
  readonly endpoint: Endpoint
  readonly passed: boolean
  /** Why it failed (a status, a refused connect, a timeout), when it did. */
  readonly error?: unknown
}

/** `primary` event: the endpoint taking `role: 'primary'` changed (undefined: none known). */
export interface PrimaryEvent {
  readonly primary: Endpoint | undefined
  readonly previous: Endpoint | undefined
}

export interface EndpointStats {
  readonly endpoint: Endpoint
  readonly state: EndpointHealth
  readonly role: EndpointRole
  readonly inFlight: number
  readonly requests: number
  readonly failures: number
  readonly consecutiveFailures: number
  /** Leases out on it with no answer yet (no response headers). */
  readonly waiting: number
  /** Stall detection keeps new requests away from it (it sits on waiting requests, answering nothing). */
  readonly stalled: boolean
  /** Peak-EWMA latency now, ms (decayed since the last observation). */
  readonly ewma: number
  readonly ejections: number
  /** Milliseconds left of the current ejection (0 when not ejected). */
  readonly ejectedFor: number
  /** Failed active checks, in total. */
  readonly checksFailed: number
}

export interface PoolStats {
  readonly service: string
  readonly balancer: BalancerName
  readonly panic: boolean
  readonly stale: boolean
  readonly primary: Endpoint | undefined
  readonly endpoints: ReadonlyArray<EndpointStats>
  /** Ejections outlier detection wanted but maxEjectionPercent prevented. */
  readonly ejectionsPrevented: number
  /** Discovery errors seen while no `error` listener was attached. */
  readonly unhandledErrors: number
  /**
   * Ms since discovery last had an answer (the age of the endpoint set: it grows while DNS
   * fails and the set is stale). Undefined before the first answer, and for a source that does
   * not say (static addresses).
   */
  readonly endpointsAge: number | undefined
}

/** The pool's events and their payloads. */
export interface PoolEvents {
  change: [EndpointChange]
  error: [Error]
  resolution: [ResolutionEvent]
  health: [HealthEvent]
  check: [CheckEvent]
  eject: [EjectEvent]
  stall: [StallEvent]
  panic: [PanicEvent]
  primary: [PrimaryEvent]
}
