import type { Endpoint } from '../endpoint.js'

/**
 * Health as reported in `health` events and `stats()`:
 * - `pending`: not yet checked, and `healthCheck.initialState` is `unhealthy`;
 * - `healthy`: takes its share of traffic (possibly ramping up under slow start);
 * - `unhealthy`: failed its active checks;
 * - `ejected`: ejected by outlier detection until `ejectedUntil`;
 * - `probation`: back from an ejection, ramping up; one failure ejects it again.
 */
export type EndpointHealth = 'pending' | 'healthy' | 'unhealthy' | 'ejected' | 'probation'

/** `unknown` until the primary option (or a probe) says otherwise. */
export type EndpointRole = 'primary' | 'replica' | 'unknown'

/**
 * Everything the pool knows about one endpoint, kept by `id` so it survives an `updated` change
 * (a rescheduled pod with a new IP). Plain mutable numeric fields: the pickers read them on every
 * request, so they must stay monomorphic and allocation-free.
 */
export class EndpointState {
  endpoint: Endpoint
  readonly id: string
  /** Position in the pool's current member list; pickers use it for tie-breaking only. */
  index = 0
  health: EndpointHealth = 'healthy'
  role: EndpointRole = 'unknown'
  /** May be picked in the current picker generation (fit, or any member in panic mode). */
  eligible = false
  /** Removed by discovery: never picked again; outstanding leases still release here. */
  removed = false
  /** SRV weight, 1 when absent. */
  weight = 1
  /** SRV priority (lower is preferred), 0 when absent. */
  priority = 0

  // Active checks.
  checkHealthy = true
  checkPasses = 0
  checkFailures = 0
  checksFailed = 0

  // Outlier detection.
  consecutiveFailures = 0
  ejected = false
  ejectedUntil = 0
  /** Drives the backoff: the n-th ejection in a row lasts base * 2^(n-1). Decays while healthy. */
  ejectionLevel = 0
  ejections = 0
  returnedAt = 0
  inProbation = false

  // Slow start and probation: the share ramps linearly from rampFrom to 1 over [rampStart, rampEnd].
  rampStart = 0
  rampEnd = 0
  /**
   * 1 while ramping, else 0: what pickers test per request. An integer, because rampEnd becomes a
   * boxed double field once any endpoint has ramped, and reading it costs a load more.
   */
  ramping = 0
  rampFrom = 1
  /** The one pending timer of this endpoint (ejection end, probation end or ramp end). */
  timer: unknown | undefined = undefined

  // Load and latency.
  inFlight = 0
  requests = 0
  failures = 0
  /** Peak-EWMA latency in ms, as of `ewmaStamp`. */
  ewma = 0
  ewmaStamp = 0
  /** `ewma` scaled to the pool's EWMA epoch, for clock-free peak-EWMA comparisons. */
  ewmaScaled = 0
  /** e^((ewmaStamp - epoch) / decay): the scale of the last observation (LatencyTracker). */
  ewmaStampScale = 0

  // Stall detection (see StallDetector): integers only, the lease path just counts.
  /** Leases out on this endpoint that have no answer yet (no response headers, not released). */
  waiting = 0
  /** Bumped when the endpoint answers something, or when nothing is left waiting on it. */
  progress = 0
  /** `progress` as the last sweep saw it. */
  progressSeen = 0
  /** Consecutive sweeps that found requests waiting here and no progress. */
  stallTicks = 0
  /** 1 while stalled: pickers skip it (unless every fit endpoint is stalled). */
  stalled = 0

  constructor(endpoint: Endpoint) {
    this.endpoint = endpoint
    this.id = endpoint.id
    this.weight = endpoint.weight ?? 1
    this.priority = endpoint.priority ?? 0
  }
}

/** The share of traffic a ramping endpoint takes at `now` (1 when not ramping). */
export function rampShare(state: EndpointState, now: number): number {
  if (now >= state.rampEnd) return 1
  const span = state.rampEnd - state.rampStart
  if (span <= 0) return 1
  const progress = now <= state.rampStart ? 0 : (now - state.rampStart) / span
  return state.rampFrom + (1 - state.rampFrom) * progress
}

/** The latency average at `now`: decays toward 0 since the last observation (Finagle's PeakEwma). */
export function decayedEwma(state: EndpointState, now: number, decay: number): number {
  const elapsed = now - state.ewmaStamp
  return elapsed <= 0 ? state.ewma : state.ewma * Math.exp(-elapsed / decay)
}
