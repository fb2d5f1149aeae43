import { debuglog } from 'node:util'
import { describeEndpoint, type Endpoint, sameAddress } from '../endpoint.js'
import type { EndpointState } from '../health/endpoint-state.js'
import type { FailureKind, Lease, LeaseOutcome } from '../lease.js'

const debug = debuglog('headless-lb')

/**
 * What the pool does with an outcome once the lease's counts are settled. `at`: when the outcome
 * happened, on performance.now()'s time base, or -1 (the pool reads its clock).
 */
export type LeaseSettled = (state: EndpointState, outcome: LeaseOutcome, at: number) => void

/**
 * A lease handed out by `acquire`. Recycled after release so `acquire` allocates nothing: do not
 * touch a lease after releasing it.
 */
class PooledLease implements Lease {
  endpoint: Endpoint
  state: EndpointState | undefined
  /** 1 until the endpoint answers (responded() or release): counted in state.waiting. */
  waiting = 0
  private readonly leases: Leases

  constructor(leases: Leases, state: EndpointState) {
    this.leases = leases
    this.state = state
    this.endpoint = state.endpoint
  }

  release(outcome: LeaseOutcome): void {
    this.#end(outcome, -1)
  }

  /**
   * @internal `release({ ok: true, latency })` for a caller that has just read performance.now()
   * itself: `at` is that reading (the HTTP client's, when its answer came), and saves the pool a
   * clock read per request. A pool on another clock ignores it.
   */
  releaseAnswered(latency: number, at: number): void {
    this.#end({ ok: true, latency }, at)
  }

  #end(outcome: LeaseOutcome, at: number): void {
    const state = this.state
    if (state === undefined) {
      debug('lease on %s released twice', describeEndpoint(this.endpoint))
      return
    }
    this.state = undefined
    this.leases.settle(state, outcome, this, at)
  }

  responded(): void {
    const state = this.state
    if (state === undefined || this.waiting === 0) return
    this.waiting = 0
    state.waiting--
    state.progress++
  }
}

/**
 * The pool's leases: hands them out counting the request in flight (and waiting, for stall
 * detection), takes them back into a free list, and passes each outcome on to `settled` unless
 * the endpoint has moved since.
 */
export class Leases {
  private readonly free: PooledLease[] = []
  private readonly settled: LeaseSettled

  constructor(settled: LeaseSettled) {
    this.settled = settled
  }

  /** A lease on `state`, counted in flight until released. */
  take(state: EndpointState): Lease {
    state.inFlight++
    state.requests++
    state.waiting++
    let lease = this.free.pop()
    if (lease === undefined) lease = new PooledLease(this, state)
    else {
      lease.state = state
      lease.endpoint = state.endpoint
    }
    lease.waiting = 1
    return lease
  }

  /** Called by a lease's release: settles the counts, then hands the outcome to the pool. */
  settle(state: EndpointState, outcome: LeaseOutcome, lease: PooledLease, at: number): void {
    // Taken at an address the pod has since left (rescheduled, same id): what happened there says
    // nothing about the server now at the new address. Identity compare first: it is the usual case.
    const moved = lease.endpoint !== state.endpoint && !sameAddress(lease.endpoint, state.endpoint)
    if (this.free.length < 1024) this.free.push(lease)
    if (state.inFlight > 0) state.inFlight--
    if (lease.waiting === 1) {
      lease.waiting = 0
      if (state.waiting > 0) state.waiting--
      // An answer, or nothing left waiting, is progress; a request that got no answer in time (or
      // was cancelled) is not, while others still wait.
      if (state.waiting === 0 || outcome.ok || !noAnswer(outcome.kind)) state.progress++
    }
    if (!moved) this.settled(state, outcome, at)
  }
}

/** Kinds of failure in which the endpoint answered nothing: not progress for stall detection. */
function noAnswer(kind: FailureKind | undefined): boolean {
  return kind === 'timeout' || kind === 'connect-timeout' || kind === 'cancelled'
}
