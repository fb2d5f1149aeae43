import type { EndpointState } from './endpoint-state.js'
import { decayedEwma } from './endpoint-state.js'
import type { ResolvedStallDetection } from './health-options.js'

/**
 * Finds endpoints that sit on requests without answering: a hung process, a black-holed address
 * with live keep-alive sockets, a pod far slower than the caller's deadline. Outlier detection
 * only hears of these when the requests end (at the caller's deadline, seconds later); until then
 * round-robin, random and consistent hashing would keep sending them their full share.
 *
 * The measure is how long an endpoint has had requests waiting for an answer while answering
 * nothing: a lower bound on the age of its oldest waiting request (at the last answer, everything
 * still waiting was already waiting then), found without a timestamp per request. The lease path
 * only counts (`waiting`, `progress`); a sweep every `interval` ms, armed only while requests are
 * out, counts the sweeps in a row that saw requests waiting and no progress. A sweep that runs
 * late (the client's own event loop blocked) counts once, so a pause of the client never makes
 * its endpoints look stalled.
 *
 * An endpoint is stalled once that time reaches `max(minStallTime, latencyMultiplier x the
 * median latency of the pool's endpoints)`: far longer than its peers take, and never on a
 * constant alone. It stays stalled until it answers or nothing is left waiting on it (its requests
 * ended, e.g. at their deadlines: it may then take a request again, and outlier detection counts
 * the timeouts). While the wait exceeds an endpoint's latency average, the wait is recorded as a
 * censored latency sample, so peak-EWMA sees pending work as latency before it completes.
 */
export class StallDetector {
  readonly options: ResolvedStallDetection
  /** ms between sweeps. */
  readonly interval: number
  /** The endpoints whose `stalled` flag the last sweep changed (reused: the sweep allocates nothing). */
  readonly transitions: EndpointState[] = []
  private scratch = new Float64Array(16)

  constructor(options: ResolvedStallDetection) {
    this.options = options
    this.interval = Math.max(5, Math.min(25, options.minStallTime / 4))
  }

  /**
   * One sweep over `members` at `now`. `censor(state, waited)` records a latency sample of at
   * least `waited` ms. Returns whether any endpoint became stalled or stopped being stalled, and
   * whether requests are still waiting anywhere (the sweep must run again).
   */
  sweep(
    members: ReadonlyArray<EndpointState>,
    now: number,
    decay: number,
    censor: (state: EndpointState, waited: number) => void,
  ): { changed: boolean; busy: boolean } {
    const interval = this.interval
    let changed = false
    let busy = false
    let candidates = 0
    this.transitions.length = 0
    for (let i = 0; i < members.length; i++) {
      const state = members[i]!
      if (state.waiting === 0 || state.progress !== state.progressSeen) {
        state.progressSeen = state.progress
        state.stallTicks = 0
        if (state.stalled !== 0) {
          state.stalled = 0
          changed = true
          this.transitions.push(state)
        }
        if (state.waiting !== 0) busy = true
        continue
      }
      busy = true
      state.stallTicks++
      const waited = state.stallTicks * interval
      if (waited > decayedEwma(state, now, decay)) censor(state, waited)
      if (state.stalled === 0 && waited >= this.options.minStallTime) candidates++
    }
    if (candidates === 0 || !this.options.enabled) return { changed, busy }
    const limit = Math.max(this.options.minStallTime, this.options.latencyMultiplier * this.typical(members))
    for (let i = 0; i < members.length; i++) {
      const state = members[i]!
      if (state.stalled === 0 && state.stallTicks > 0 && state.stallTicks * interval >= limit) {
        state.stalled = 1
        changed = true
        this.transitions.push(state)
      }
    }
    return { changed, busy }
  }

  /** The median of the latency averages of endpoints that have one (0 when none has). */
  private typical(members: ReadonlyArray<EndpointState>): number {
    if (this.scratch.length < members.length) this.scratch = new Float64Array(members.length * 2)
    let n = 0
    for (let i = 0; i < members.length; i++) {
      const state = members[i]!
      if (state.ewmaStamp !== 0) this.scratch[n++] = state.ewma
    }
    if (n === 0) return 0
    const values = this.scratch.subarray(0, n).sort()
    return n % 2 === 1 ? values[n >> 1]! : (values[(n >> 1) - 1]! + values[n >> 1]!) / 2
  }
}
