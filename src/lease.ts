import type { Endpoint } from './endpoint.js'

/** Which side of a primary/replica StatefulSet a request needs. */
export type Role = 'primary' | 'replica' | 'any'

/**
 * Read preferences, with the MongoDB driver's meanings:
 * - `primary`: only the primary (fails with NoPrimaryError when none is known);
 * - `primaryPreferred`: the primary, else a replica;
 * - `replica`: only replicas;
 * - `replicaPreferred`: a replica, else the primary;
 * - `nearest`: healthy endpoints of either role within `nearestThreshold` ms of the lowest EWMA
 *   latency (MongoDB's latency window), the less loaded of two drawn at random.
 */
export type ReadPreference = 'primary' | 'primaryPreferred' | 'replica' | 'replicaPreferred' | 'nearest'

/** What the caller wants from `pick` / `acquire`. Every field is optional. */
export interface PickOptions {
  readonly role?: Role
  readonly readPreference?: ReadPreference
  /** The consistent-hash key (a user id, a cache key). */
  readonly key?: string
  /** Endpoints not to return (already tried by this request), by object or by `id`. */
  readonly exclude?: ReadonlyArray<Endpoint | string>
}

/**
 * Why an attempt failed, as precisely as the caller knows. `connect-refused` is strong evidence
 * that the pod is gone and may eject it at once; `status` is a response the caller counts as a
 * failure (a 5xx). `timeout` is an attempt that was sent and got no answer in time, whoever's
 * timer it was (undici's headers/body timeout, or the caller's deadline): it counts as a failure
 * with a latency of at least the time waited, as Envoy counts local-origin timeouts. `cancelled`
 * says nothing about the endpoint (the caller cancelled for a reason other than time, or the
 * request itself was invalid): it only frees the in-flight slot, and counts neither as a failure
 * nor as a latency sample, as Envoy records no outlier result for a reset the downstream caused.
 */
export type FailureKind =
  | 'connect-refused'
  | 'connect-timeout'
  | 'timeout'
  | 'reset'
  | 'status'
  | 'cancelled'
  | 'other'

export type LeaseOutcome =
  | { readonly ok: true; readonly latency: number }
  | {
      readonly ok: false
      readonly error?: unknown
      readonly kind?: FailureKind
      readonly latency?: number
      /**
       * With `kind: 'cancelled'`: the endpoint had not answered after `latency` ms when the work was
       * cancelled for a reason that says something about its speed (a hedge to another endpoint
       * answered first). `latency` is then a lower bound (a censored sample): latency-aware
       * balancers raise the endpoint's average to it if it is higher, and nothing counts as a
       * failure. Without it, a cancelled outcome says nothing about the endpoint.
       */
      readonly censored?: boolean
    }

/** One unit of in-flight work on one endpoint. Release it exactly once, with its outcome. */
export interface Lease {
  readonly endpoint: Endpoint
  release(outcome: LeaseOutcome): void
  /**
   * Optional: the endpoint has answered (response headers arrived) but the work goes on (a body
   * or stream still being read). Stall detection then stops counting this lease as waiting for
   * an answer; without the call, it waits until `release`.
   */
  responded?(): void
}
