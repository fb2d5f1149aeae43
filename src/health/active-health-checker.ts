import { debuglog } from 'node:util'
import type { Clock } from '../internal/clock.js'
import { rethrowOutside } from '../internal/rethrow-outside.js'
import { timedProbe } from '../internal/timed-probe.js'
import type { EndpointState } from './endpoint-state.js'
import type { ResolvedHealthCheck } from './health-options.js'
import { httpCheck } from './http-check.js'
import { tcpCheck } from './tcp-check.js'

const debug = debuglog('headless-lb')

/** Result of one check of one endpoint; `error` says why it failed, when it did not just return false. */
export type CheckResultListener = (state: EndpointState, passed: boolean, error: unknown) => void

interface Schedule {
  timer: unknown | undefined
  controller: AbortController | undefined
}

/**
 * Runs the configured active check against every endpoint it is given: the first check after a
 * random share of `interval` x `jitter` (at once under `initialState: 'unhealthy'`, so pending
 * endpoints join quickly, and at once for an endpoint's new address), then every
 * `interval` +- `jitter`.
 * One check per endpoint at a time; a check that outlives `timeout` is aborted and fails.
 * Results for endpoints removed meanwhile, or after close, are dropped.
 */
export class ActiveHealthChecker {
  private readonly options: ResolvedHealthCheck
  private readonly clock: Clock
  private readonly random: () => number
  private readonly onResult: CheckResultListener
  private readonly schedules = new Map<EndpointState, Schedule>()
  private closed = false

  constructor(
    options: ResolvedHealthCheck,
    clock: Clock,
    random: () => number,
    onResult: CheckResultListener,
  ) {
    this.options = options
    this.clock = clock
    this.random = random
    this.onResult = onResult
  }

  add(state: EndpointState): void {
    if (this.closed || this.schedules.has(state)) return
    const schedule: Schedule = { timer: undefined, controller: undefined }
    this.schedules.set(state, schedule)
    // A fleet of clients restarted together (a rollout) would otherwise check every pod at the
    // same instant, and every interval after in near lockstep: spread each endpoint's first check
    // over the jitter's share of the interval. Not under initialState 'unhealthy': there the
    // endpoint takes no traffic until a check passes, so its first check runs at once.
    const { interval, jitter, initialState } = this.options
    const delay = initialState === 'unhealthy' ? 0 : interval * jitter * this.random()
    if (delay > 0) schedule.timer = this.clock.setTimeout(() => this.run(state, schedule), delay)
    else this.run(state, schedule)
  }

  /**
   * Checks `state` again at once, dropping a check in flight: its endpoint moved to a new address
   * (a rescheduled pod), and a verdict on the old address says nothing about the new one.
   */
  restart(state: EndpointState): void {
    const schedule = this.schedules.get(state)
    if (this.closed || schedule === undefined) return
    this.stop(schedule)
    this.run(state, schedule)
  }

  remove(state: EndpointState): void {
    const schedule = this.schedules.get(state)
    if (schedule === undefined) return
    this.schedules.delete(state)
    this.stop(schedule)
  }

  close(): void {
    this.closed = true
    for (const schedule of this.schedules.values()) this.stop(schedule)
    this.schedules.clear()
  }

  private stop(schedule: Schedule): void {
    if (schedule.timer !== undefined) this.clock.clearTimeout(schedule.timer)
    schedule.timer = undefined
    schedule.controller?.abort()
    schedule.controller = undefined
  }

  private run(state: EndpointState, schedule: Schedule): void {
    schedule.timer = undefined
    const controller = new AbortController()
    schedule.controller = controller
    // A check that ignores its signal still fails at the timeout.
    timedProbe(this.clock, this.options.timeout, 'health check timed out', controller, (signal) =>
      this.check(state, signal),
    )
      .then(
        (passed) => this.settle(state, schedule, controller, passed === true, undefined),
        (error: unknown) => this.settle(state, schedule, controller, false, error),
      )
      .catch(rethrowOutside)
  }

  private settle(
    state: EndpointState,
    schedule: Schedule,
    controller: AbortController,
    passed: boolean,
    error: unknown,
  ): void {
    if (schedule.controller !== controller) return
    schedule.controller = undefined
    if (this.closed || this.schedules.get(state) !== schedule) return
    if (!passed) debug('health check of %s failed: %s', state.id, error ?? 'check returned false')
    try {
      this.onResult(state, passed, error)
    } finally {
      // Even when a `health` listener threw: one listener's bug must not end this endpoint's checks.
      if (!this.closed && this.schedules.get(state) === schedule) {
        const { interval, jitter } = this.options
        const delay = Math.max(0, interval * (1 + jitter * (2 * this.random() - 1)))
        schedule.timer = this.clock.setTimeout(() => this.run(state, schedule), delay)
      }
    }
  }

  private check(state: EndpointState, signal: AbortSignal): Promise<boolean> {
    const endpoint = state.endpoint
    switch (this.options.kind) {
      case 'http':
        return httpCheck(endpoint, this.options, signal)
      case 'tcp':
        return tcpCheck(endpoint, signal)
      case 'custom':
        return this.options.check(endpoint, signal)
    }
  }
}
