import { describe, expect, it } from 'vitest'
import { PickContext } from '../../../src/balancing/balancer.js'
import { resolveBalancingOptions } from '../../../src/balancing/balancing-options.js'
import type { EndpointHealth } from '../../../src/health/endpoint-state.js'
import { EndpointState } from '../../../src/health/endpoint-state.js'
import { HealthTracker } from '../../../src/health/health-tracker.js'
import { ejectionDuration, nextEjectionLevel } from '../../../src/health/outlier-detector.js'
import type { PoolControl } from '../../../src/pool/pool-control.js'
import type { EjectEvent } from '../../../src/pool/pool-events.js'
import { FakeClock } from '../../support/fake-clock.js'
import { statefulSet } from '../pool/fakes.js'

/** A PoolControl that records what the tracker asked for, as the pool would hear it. */
class RecordingControl implements PoolControl {
  readonly calls: string[] = []
  readonly ejections: EjectEvent[] = []
  ramping = false
  healthChanged(state: EndpointState, previous: EndpointHealth, reason: string): void {
    this.calls.push(`${state.endpoint.name} ${previous}->${state.health} (${reason})`)
  }
  ejected(state: EndpointState, event: EjectEvent, previous: EndpointHealth): void {
    this.ejections.push(event)
    this.calls.push(`${state.endpoint.name} ${previous}->ejected (${event.reason})`)
  }
  checked(): void {}
  stallsChanged(transitions: ReadonlyArray<EndpointState>): void {
    this.calls.push(`stalls ${transitions.map((s) => s.endpoint.name).join(',')}`)
  }
  rampingChanged(ramping: boolean): void {
    this.ramping = ramping
  }
  requestRebuild(): void {
    this.calls.push('rebuild')
  }
}

function setup(options: Record<string, unknown> = {}, n = 4) {
  const clock = new FakeClock()
  const resolved = resolveBalancingOptions({ service: 'web', panicThreshold: 0, ...options })
  const control = new RecordingControl()
  const members = statefulSet(n).map((e) => new EndpointState(e))
  const context = new PickContext(clock.now(), resolved.ewmaDecay, () => 0)
  const tracker = new HealthTracker(
    'web',
    resolved,
    clock,
    () => 0,
    context,
    () => members,
    () => {},
    control,
  )
  for (const state of members) {
    tracker.add(state, clock.now(), false)
    state.health = state.health === 'pending' ? 'pending' : 'healthy'
  }
  return { clock, control, members, tracker }
}

describe('the health tracker, alone with a fake clock', () => {
  it('ejects on the n-th consecutive failure, returns after the ejection, then ends probation', () => {
    const { clock, control, members, tracker } = setup({
      outlierDetection: { consecutiveFailures: 3, baseEjectionTime: 1_000, probation: 500, jitter: 0 },
    })
    const web0 = members[0]!
    tracker.onLeaseFailure(web0, 'status', undefined)
    tracker.onLeaseFailure(web0, 'status', undefined)
    expect(control.calls).toEqual([])
    tracker.onLeaseFailure(web0, 'status', new Error('503'))
    expect(control.ejections).toMatchObject([
      { duration: 1_000, ejections: 1, reason: 'consecutive-failures' },
    ])
    expect(tracker.ejectedCount).toBe(1)
    clock.advance(999)
    expect(web0.health).toBe('ejected')
    clock.advance(1)
    expect(web0.health).toBe('probation')
    expect(control.ramping).toBe(true)
    clock.advance(500)
    expect(control.calls).toEqual([
      'web-0 healthy->ejected (consecutive-failures)',
      'web-0 ejected->probation (returned)',
      'web-0 probation->healthy (probation-ended)',
    ])
    expect(control.ramping).toBe(false)
    expect(clock.pending).toBe(0)
  })

  it('ejects at once on a refused connect, and again on any failure during probation, for twice as long', () => {
    const { clock, control, members, tracker } = setup({
      outlierDetection: { baseEjectionTime: 1_000, probation: 500, jitter: 0 },
    })
    tracker.onLeaseFailure(members[1]!, 'connect-refused', undefined)
    clock.advance(1_000)
    tracker.onLeaseFailure(members[1]!, 'status', undefined)
    expect(control.ejections.map((e) => [e.reason, e.duration])).toEqual([
      ['connect-refused', 1_000],
      ['probation', 2_000],
    ])
  })

  it('never ejects more than maxEjectionPercent, but counts the ejections it prevented', () => {
    const { members, tracker } = setup({
      outlierDetection: { consecutiveFailures: 1, maxEjectionPercent: 25 },
    })
    tracker.onLeaseFailure(members[0]!, 'status', undefined)
    tracker.onLeaseFailure(members[1]!, 'status', undefined)
    expect(tracker.ejectedCount).toBe(1)
    expect(tracker.ejectionsPrevented).toBe(1)
  })

  it('ramps a newcomer under slow start and stops every timer on close', () => {
    const { clock, control, members, tracker } = setup({ slowStart: 1_000 })
    const newcomer = new EndpointState(statefulSet(5)[4]!)
    members.push(newcomer)
    tracker.add(newcomer, clock.now(), true)
    expect(newcomer.ramping).toBe(1)
    expect(control.ramping).toBe(true)
    tracker.onLeaseFailure(members[0]!, 'connect-refused', undefined)
    tracker.close()
    expect(clock.pending).toBe(0)
  })

  it('resets a readdressed endpoint to the initial state and reports it once', () => {
    const { clock, control, members, tracker } = setup()
    tracker.onLeaseFailure(members[2]!, 'connect-refused', undefined)
    tracker.readdress(members[2]!, clock.now())
    tracker.addressChanged(members[2]!)
    expect(members[2]).toMatchObject({
      ejected: false,
      consecutiveFailures: 0,
      health: 'healthy',
      ejections: 1,
    })
    expect(tracker.ejectedCount).toBe(0)
    expect(control.calls.at(-1)).toBe('web-2 ejected->healthy (address-changed)')
  })
})

describe('the ejection length', () => {
  const options = resolveBalancingOptions({
    service: 'web',
    outlierDetection: { baseEjectionTime: 1_000, maxEjectionTime: 8_000, jitter: 0.5 },
  }).outlierDetection

  it('doubles with each level, adds jitter of it, and stops at maxEjectionTime', () => {
    expect([1, 2, 3, 4, 5].map((level) => ejectionDuration(options, level, 0))).toEqual([
      1_000, 2_000, 4_000, 8_000, 8_000,
    ])
    expect(ejectionDuration(options, 1, 0.5)).toBe(1_250)
    expect(ejectionDuration(options, 4, 0.9)).toBe(8_000)
  })

  it('decays a level for every baseEjectionTime the endpoint stayed in since its last return', () => {
    expect(nextEjectionLevel(options, 0, 0)).toBe(1)
    expect(nextEjectionLevel(options, 3, 0)).toBe(4)
    expect(nextEjectionLevel(options, 3, 2_500)).toBe(2)
    expect(nextEjectionLevel(options, 3, 60_000)).toBe(1)
  })
})
