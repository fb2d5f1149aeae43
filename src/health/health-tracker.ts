import { debuglog } from 'node:util'
import type { PickContext } from '../balancing/balancer.js'
import type { ResolvedBalancingOptions } from '../balancing/balancing-options.js'
import { describeEndpoint } from '../endpoint.js'
import type { Clock } from '../internal/clock.js'
import type { FailureKind } from '../lease.js'
import type { PoolControl } from '../pool/pool-control.js'
import type { HealthChangeReason } from '../pool/pool-events.js'
import { ActiveHealthChecker } from './active-health-checker.js'
import type { EndpointHealth, EndpointState } from './endpoint-state.js'
import type { EjectReason } from './outlier-detector.js'
import { ejectionDuration, nextEjectionLevel, OutlierDetector } from './outlier-detector.js'
import { StallDetector } from './stall-detector.js'

const debug = debuglog('headless-lb')

/** What the health tracker needs of the pool's options. */
export type HealthTrackerOptions = Pick<
  ResolvedBalancingOptions,
  'healthCheck' | 'outlierDetection' | 'slowStart' | 'stallDetection' | 'ewmaDecay'
>

/**
 * Each endpoint's health state machine and the timers that drive it: active-check thresholds,
 * outlier ejection and the return from it, probation, slow-start ramps, and the stall sweep.
 * It owns every per-endpoint timer (`state.timer`, one at a time) and the sweep timer; it tells
 * the pool of each transition through PoolControl, after updating the state.
 */
export class HealthTracker {
  /** Ejected endpoints now (maxEjectionPercent counts them). */
  ejectedCount = 0
  /** Ejections outlier detection wanted but maxEjectionPercent prevented. */
  ejectionsPrevented = 0
  /** 1 while a stall sweep is scheduled (armed by acquire, stops when nothing is waiting). */
  sweepArmed = 0
  private rampingCount = 0
  private sweepTimer: unknown = undefined
  private closed = false
  private readonly options: HealthTrackerOptions
  private readonly service: string
  private readonly clock: Clock
  private readonly random: () => number
  private readonly context: PickContext
  private readonly members: () => ReadonlyArray<EndpointState>
  private readonly censor: (state: EndpointState, waited: number) => void
  private readonly control: PoolControl
  private readonly detector: OutlierDetector
  private readonly stalls: StallDetector
  private readonly checker: ActiveHealthChecker | undefined
  private readonly onSweep = (): void => this.sweep()

  /**
   * `members`: the pool's members now (for maxEjectionPercent and the sweep); `censor`: records a
   * censored latency (a stalled endpoint's wait); `context.now` is refreshed before it is called.
   */
  constructor(
    service: string,
    options: HealthTrackerOptions,
    clock: Clock,
    random: () => number,
    context: PickContext,
    members: () => ReadonlyArray<EndpointState>,
    censor: (state: EndpointState, waited: number) => void,
    control: PoolControl,
  ) {
    this.service = service
    this.options = options
    this.clock = clock
    this.random = random
    this.context = context
    this.members = members
    this.censor = censor
    this.control = control
    this.detector = new OutlierDetector(options.outlierDetection)
    this.stalls = new StallDetector(options.stallDetection)
    this.checker =
      options.healthCheck === undefined
        ? undefined
        : new ActiveHealthChecker(options.healthCheck, clock, random, (state, passed, error) =>
            this.onCheckResult(state, passed, error),
          )
  }

  /** Milliseconds between stall sweeps. */
  get stallInterval(): number {
    return this.stalls.interval
  }

  /**
   * A new endpoint: at the initial health state, checked from now on, ramping under slow start
   * when `rampUp` (not for the pool's first members: there is nobody to shield them from).
   */
  add(state: EndpointState, now: number, rampUp: boolean): void {
    if (this.options.healthCheck?.initialState === 'unhealthy') {
      state.checkHealthy = false
      state.health = 'pending'
    }
    const slowStart = this.options.slowStart
    if (rampUp && slowStart.window > 0) this.startRamp(state, now, slowStart.window, slowStart.minShare)
    this.checker?.add(state)
  }

  /**
   * A pod rescheduled to a new address is a new server behind an old name (Envoy and grpc-js key
   * this state by address). What the old address earned says nothing about it: an ejection (often
   * for refused connects, which is how a pod's death shows), a failure streak, a check in flight.
   * It starts as a new endpoint does: at the initial health state, checked at once, ramping under
   * slow start. The ejection count stays, so a pod that keeps failing after reschedules is still
   * ejected for longer each time. The caller reports the transition (`addressChanged`) once every
   * member is in place.
   */
  readdress(state: EndpointState, now: number): void {
    this.clearTimer(state)
    this.endRamp(state)
    if (state.ejected) {
      state.ejected = false
      this.ejectedCount--
      state.returnedAt = now
    }
    state.inProbation = false
    state.consecutiveFailures = 0
    state.checkPasses = 0
    state.checkFailures = 0
    state.checkHealthy = this.options.healthCheck?.initialState !== 'unhealthy'
    const slowStart = this.options.slowStart
    if (slowStart.window > 0) this.startRamp(state, now, slowStart.window, slowStart.minShare)
    this.checker?.restart(state)
  }

  /** Reports a readdressed endpoint's return to the initial state (see readdress). */
  addressChanged(state: EndpointState): void {
    this.updateHealth(state, 'address-changed', state.checkHealthy ? undefined : 'pending')
  }

  /** Discovery no longer lists the endpoint: its timers and checks stop. */
  remove(state: EndpointState): void {
    state.removed = true
    state.eligible = false
    this.clearTimer(state)
    this.endRamp(state)
    if (state.ejected) {
      state.ejected = false
      this.ejectedCount--
    }
    this.checker?.remove(state)
  }

  /** A lease on a listed endpoint failed (not cancelled): outlier detection decides. */
  onLeaseFailure(state: EndpointState, kind: FailureKind | undefined, error: unknown): void {
    const reason = this.detector.recordFailure(state, kind)
    if (reason !== undefined) this.eject(state, reason, error)
  }

  /** Arms the stall sweep (acquire calls it when `sweepArmed` is 0). */
  armStallSweep(): void {
    if (this.closed) return
    this.sweepArmed = 1
    this.sweepTimer = this.clock.setTimeout(this.onSweep, this.stalls.interval)
  }

  /** Stops checks and every timer. Idempotent. */
  close(): void {
    this.closed = true
    this.checker?.close()
    for (const state of this.members()) this.clearTimer(state)
    if (this.sweepTimer !== undefined) this.clock.clearTimeout(this.sweepTimer)
    this.sweepTimer = undefined
  }

  /** Stall detection's sweep (see StallDetector); runs while requests are out. */
  private sweep(): void {
    this.sweepArmed = 0
    this.sweepTimer = undefined
    if (this.closed) return
    const now = this.clock.now()
    this.context.now = now
    const members = this.members()
    const { changed, busy } = this.stalls.sweep(members, now, this.options.ewmaDecay, this.censor)
    if (changed) {
      debug(
        '%s: stalled %s',
        this.service,
        members
          .filter((s) => s.stalled !== 0)
          .map((s) => s.id)
          .join(', ') || 'none',
      )
      this.control.stallsChanged(this.stalls.transitions, this.stalls.interval)
    }
    if (busy) this.armStallSweep()
  }

  private onCheckResult(state: EndpointState, passed: boolean, error: unknown): void {
    if (this.closed || state.removed) return
    const { healthyThreshold, unhealthyThreshold } = this.options.healthCheck!
    this.control.checked(state, passed, error)
    if (passed) {
      state.checkFailures = 0
      state.checkPasses++
      if (!state.checkHealthy && state.checkPasses >= healthyThreshold) {
        state.checkHealthy = true
        this.updateHealth(state, 'check-passed')
      }
    } else {
      state.checkPasses = 0
      state.checkFailures++
      state.checksFailed++
      if (state.health === 'pending') this.updateHealth(state, 'check-failed', 'unhealthy')
      else if (state.checkHealthy && state.checkFailures >= unhealthyThreshold) {
        state.checkHealthy = false
        this.updateHealth(state, 'check-failed')
      }
    }
  }

  private eject(state: EndpointState, reason: EjectReason, error: unknown): void {
    if (!this.detector.mayEject(this.ejectedCount, this.members().length)) {
      this.ejectionsPrevented++
      debug('not ejecting %s: maxEjectionPercent reached', state.id)
      return
    }
    const now = this.clock.now()
    const options = this.options.outlierDetection
    const healthyFor = state.returnedAt > 0 ? now - state.returnedAt : 0
    state.ejectionLevel = nextEjectionLevel(options, state.ejectionLevel, healthyFor)
    const duration = ejectionDuration(options, state.ejectionLevel, this.random())
    this.clearTimer(state)
    this.endRamp(state)
    state.inProbation = false
    state.ejected = true
    state.ejectedUntil = now + duration
    state.ejections++
    this.ejectedCount++
    state.timer = this.clock.setTimeout(() => this.returnFromEjection(state), duration)
    const previous = state.health
    state.health = 'ejected'
    if (debug.enabled) {
      debug(
        '%s: ejected %s for %d ms (%s, ejection %d): %s',
        this.service,
        describeEndpoint(state.endpoint),
        Math.round(duration),
        reason,
        state.ejections,
        describeError(error),
      )
    }
    this.control.ejected(
      state,
      { endpoint: state.endpoint, duration, ejections: state.ejections, reason, error },
      previous,
    )
  }

  private returnFromEjection(state: EndpointState): void {
    state.timer = undefined
    if (this.closed || state.removed || !state.ejected) return
    const now = this.clock.now()
    state.ejected = false
    this.ejectedCount--
    state.returnedAt = now
    state.consecutiveFailures = 0
    const probation = this.options.outlierDetection.probation
    if (probation > 0) {
      state.inProbation = true
      this.startRamp(state, now, probation, 0.1)
    }
    if (debug.enabled) {
      debug(
        '%s: %s returns from ejection%s',
        this.service,
        describeEndpoint(state.endpoint),
        probation > 0 ? ` (probation ${probation} ms)` : '',
      )
    }
    this.updateHealth(state, 'returned')
  }

  private startRamp(state: EndpointState, now: number, window: number, from: number): void {
    this.clearTimer(state)
    if (state.ramping === 0 && this.rampingCount++ === 0) this.control.rampingChanged(true)
    state.ramping = 1
    state.rampStart = now
    state.rampEnd = now + window
    state.rampFrom = from
    state.timer = this.clock.setTimeout(() => {
      state.timer = undefined
      this.endRamp(state)
      if (state.inProbation && !this.closed && !state.removed) {
        state.inProbation = false
        this.updateHealth(state, 'probation-ended')
      }
    }, window)
  }

  private endRamp(state: EndpointState): void {
    if (state.ramping === 0) return
    state.ramping = 0
    state.rampEnd = 0
    if (--this.rampingCount === 0) this.control.rampingChanged(false)
  }

  private clearTimer(state: EndpointState): void {
    if (state.timer !== undefined) this.clock.clearTimeout(state.timer)
    state.timer = undefined
  }

  private updateHealth(state: EndpointState, reason: HealthChangeReason, forced?: EndpointHealth): void {
    const previous = state.health
    const next: EndpointHealth =
      forced ??
      (state.ejected
        ? 'ejected'
        : !state.checkHealthy
          ? previous === 'pending'
            ? 'pending'
            : 'unhealthy'
          : state.inProbation
            ? 'probation'
            : 'healthy')
    if (next === previous) return
    state.health = next
    if (debug.enabled) {
      debug('%s: %s %s -> %s (%s)', this.service, describeEndpoint(state.endpoint), previous, next, reason)
    }
    this.control.healthChanged(state, previous, reason)
  }
}

/** A failure in one short phrase for the debug log: its code, else its message. */
function describeError(error: unknown): string {
  if (error === undefined || error === null) return 'no error given'
  const code = (error as { code?: unknown }).code
  if (typeof code === 'string') return code
  return (error as Error).message ?? String(error)
}
