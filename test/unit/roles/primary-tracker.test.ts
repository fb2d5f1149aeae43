import { describe, expect, it } from 'vitest'
import type { Endpoint } from '../../../src/endpoint.js'
import { EndpointState } from '../../../src/health/endpoint-state.js'
import type { PoolControl } from '../../../src/pool/pool-control.js'
import { PrimaryTracker } from '../../../src/roles/primary-tracker.js'
import { FakeClock } from '../../support/fake-clock.js'
import { statefulSet } from '../pool/fakes.js'

const settle = () => new Promise((resolve) => setImmediate(resolve))

function setup(initial: Array<'primary' | 'replica' | 'down'>) {
  const clock = new FakeClock()
  const members = statefulSet(initial.length, 'db').map((e) => new EndpointState(e))
  const answers = new Map(members.map((s, i) => [s.endpoint.name!, initial[i]!]))
  let rebuilds = 0
  const control: PoolControl = {
    healthChanged() {},
    ejected() {},
    checked() {},
    stallsChanged() {},
    rampingChanged() {},
    requestRebuild: () => {
      rebuilds++
    },
  }
  const probe = async (endpoint: Endpoint): Promise<'primary' | 'replica'> => {
    const role = answers.get(endpoint.name!)!
    if (role === 'down') throw new Error('connect ECONNREFUSED')
    return role
  }
  const tracker = new PrimaryTracker(
    { kind: 'probe', probe, interval: 5_000, timeout: 500 },
    clock,
    () => members,
    control,
  )
  const round = async () => {
    tracker.requestSoon()
    // A follow-up round waits 250 ms after the last one began.
    clock.advance(300)
    await settle()
    tracker.applyRoles(members)
    return members.map((s) => s.role)
  }
  return { clock, members, answers, tracker, round, rebuilds: () => rebuilds }
}

describe('the primary tracker, alone', () => {
  it('sets the roles the probe answers and asks for a rebuild after each answer', async () => {
    const { round, rebuilds, tracker } = setup(['replica', 'primary', 'down'])
    expect(await round()).toEqual(['replica', 'primary', 'unknown'])
    expect(rebuilds()).toBe(3)
    tracker.close()
  })

  it('takes the newer primary when two claim it (a promotion is the newer fact); the other is unknown, not a replica', async () => {
    const { answers, round, tracker } = setup(['primary', 'replica'])
    await round()
    answers.set('db-1', 'primary')
    expect(await round()).toEqual(['unknown', 'primary'])
    answers.set('db-0', 'replica')
    expect(await round()).toEqual(['replica', 'primary'])
    tracker.close()
  })

  it('forgets what it knew of a moved endpoint, and drops answers after close', async () => {
    const { members, round, tracker, rebuilds } = setup(['primary', 'replica'])
    await round()
    tracker.forget(members[0]!)
    tracker.applyRoles(members)
    expect(members.map((s) => s.role)).toEqual(['unknown', 'replica'])
    tracker.close()
    const before = rebuilds()
    tracker.requestSoon()
    await settle()
    expect(rebuilds()).toBe(before)
  })
})
