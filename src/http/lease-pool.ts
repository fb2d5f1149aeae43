import type { Endpoint, EndpointChange } from '../endpoint.js'
import type { Lease, PickOptions } from '../lease.js'
import type { HealthEvent, StallEvent } from '../pool.js'

/**
 * A lease that can take the time of its answer from the caller: the pool's own (src/pool/leases.ts)
 * can; one from another LeasePool may not, and then gets `release`.
 */
export interface AnsweredLease extends Lease {
  /** `release({ ok: true, latency })`, with `at` the caller's performance.now() reading at the answer. */
  releaseAnswered?(latency: number, at: number): void
}

/**
 * What the HTTP layer needs from the pool (src/pool.ts): the service name, the endpoint set
 * with its change events, readiness, and leases. Kept this small so that the transport
 * depends on the pool's contract, not its implementation, and unit tests can pass a fake.
 */
export interface LeasePool {
  /** The service name the pool resolves (as given, or expanded). */
  readonly service: string
  readonly endpoints: ReadonlyArray<Endpoint>
  /** The HTTP layer passes `allowEmpty: true`: its requests fail at once when no pod is listed. */
  ready(options?: { signal?: AbortSignal; allowEmpty?: boolean }): Promise<void>
  /**
   * Picks an endpoint without counting it in flight; throws as `acquire` does. Optional: when
   * given, a retry that would wait (a `Retry-After`) first checks there is an endpoint to retry on.
   */
  pick?(options?: PickOptions): Endpoint
  /** Picks an endpoint and counts in-flight work on it; throws NoEndpointsError / NoPrimaryError. */
  acquire(options?: PickOptions): Lease
  refresh(): void
  on(event: 'change', listener: (change: EndpointChange) => void): unknown
  /** An endpoint out of rotation (`ejected`, `unhealthy`) has its connections retired; a pool that never emits it retires none. */
  on(event: 'health', listener: (event: HealthEvent) => void): unknown
  /** A stalled endpoint has its connections retired, as one out of rotation. */
  on(event: 'stall', listener: (event: StallEvent) => void): unknown
  off(event: 'change', listener: (change: EndpointChange) => void): unknown
  off(event: 'health', listener: (event: HealthEvent) => void): unknown
  off(event: 'stall', listener: (event: StallEvent) => void): unknown
  close(): Promise<void>
}
