import { debuglog } from 'node:util'
import type { PrimaryProbe } from '../balancing/balancing-options.js'
import { sameAddress } from '../endpoint.js'
import type { EndpointState } from '../health/endpoint-state.js'
import type { Clock } from '../internal/clock.js'
import { rethrowOutside } from '../internal/rethrow-outside.js'
import { timedProbe } from '../internal/timed-probe.js'

const debug = debuglog('headless-lb')

/** Probe results arrive one endpoint at a time, so a promotion is seen as soon as its probe answers. */
export type ProbeResultListener = (
  state: EndpointState,
  role: 'primary' | 'replica' | 'unknown',
  error: unknown,
) => void

/** A follow-up round asked for right after a failure waits at least this long after the last round began. */
const MIN_ROUND_GAP = 250

/**
 * Runs the `primary.probe` against every member: a round every `interval`, and one soon after
 * `requestSoon()` (the pool calls it when a lease on the primary fails, or members change).
 * A probe that throws or outlives `timeout` leaves the role unknown. After close, late results are
 * dropped and no round starts.
 */
export class PrimaryProber {
  private readonly probe: PrimaryProbe
  private readonly interval: number
  private readonly timeout: number
  private readonly clock: Clock
  private readonly members: () => ReadonlyArray<EndpointState>
  private readonly onResult: ProbeResultListener
  private timer: unknown | undefined
  private running = false
  private again = false
  private lastRound = Number.NEGATIVE_INFINITY
  private readonly controllers = new Set<AbortController>()
  private closed = false
  rounds = 0

  constructor(
    options: { probe: PrimaryProbe; interval: number; timeout: number },
    clock: Clock,
    members: () => ReadonlyArray<EndpointState>,
    onResult: ProbeResultListener,
  ) {
    this.probe = options.probe
    this.interval = options.interval
    this.timeout = options.timeout
    this.clock = clock
    this.members = members
    this.onResult = onResult
  }

  /** Starts a round soon (at once unless one ran in the last 250 ms); coalesces with a running round. */
  requestSoon(): void {
    if (this.closed) return
    if (this.running) {
      this.again = true
      return
    }
    this.schedule(Math.max(0, this.lastRound + MIN_ROUND_GAP - this.clock.now()))
  }

  close(): void {
    this.closed = true
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer)
    this.timer = undefined
    for (const controller of this.controllers) controller.abort(new Error('pool closed'))
    this.controllers.clear()
  }

  private schedule(delay: number): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer)
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined
      void this.round()
    }, delay)
  }

  private async round(): Promise<void> {
    if (this.closed) return
    this.running = true
    this.again = false
    this.lastRound = this.clock.now()
    this.rounds++
    await Promise.all(this.members().map((state) => this.probeOne(state)))
    this.running = false
    if (this.closed) return
    if (this.again) this.requestSoon()
    else this.schedule(this.interval)
  }

  private async probeOne(state: EndpointState): Promise<void> {
    const endpoint = state.endpoint
    const controller = new AbortController()
    this.controllers.add(controller)
    let role: 'primary' | 'replica' | 'unknown' = 'unknown'
    let failure: unknown
    try {
      const answer = await timedProbe(
        this.clock,
        this.timeout,
        'primary probe timed out',
        controller,
        (signal) => this.probe(endpoint, signal),
      )
      if (answer === 'primary' || answer === 'replica') role = answer
      else failure = new TypeError(`primary.probe must resolve "primary" or "replica", got ${String(answer)}`)
    } catch (error) {
      failure = error
    } finally {
      this.controllers.delete(controller)
    }
    // An answer from the address the endpoint had before it was rescheduled is about another server.
    if (this.closed || state.removed || !sameAddress(state.endpoint, endpoint)) return
    if (failure !== undefined) debug('primary probe of %s failed: %s', state.id, failure)
    try {
      this.onResult(state, role, failure)
    } catch (error) {
      // A throwing `primary`/`health`/`panic` listener must not end the round, and with it every
      // later round: the pool would never see a failover again.
      rethrowOutside(error)
    }
  }
}
