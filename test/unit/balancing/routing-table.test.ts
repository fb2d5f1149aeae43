import { describe, expect, it } from 'vitest'
import { PickContext } from '../../../src/balancing/balancer.js'
import { RoutingTable } from '../../../src/balancing/routing-table.js'
import type { EndpointHealth } from '../../../src/health/endpoint-state.js'
import { EndpointState } from '../../../src/health/endpoint-state.js'
import {
  SELECT_ANY,
  SELECT_NEAREST,
  SELECT_PRIMARY,
  SELECT_PRIMARY_PREFERRED,
  SELECT_REPLICA,
  SELECT_REPLICA_PREFERRED,
} from '../../../src/roles/roles.js'
import { seededRandom, statefulSet } from '../pool/fakes.js'

function setup(healths: EndpointHealth[], panicThreshold = 0.5) {
  const context = new PickContext(1_000, 10_000, seededRandom(5))
  const members = statefulSet(healths.length).map((e, i) => {
    const state = new EndpointState(e)
    state.health = healths[i]!
    state.index = i
    return state
  })
  const routing = new RoutingTable('round-robin', context, panicThreshold, 15)
  routing.rebuild(members)
  const picked = (plan = SELECT_ANY, n = 30) => {
    const seen = new Set<string>()
    for (let i = 0; i < n; i++) {
      const s = routing.select(plan as 0, undefined, undefined)
      seen.add(s === undefined ? 'none' : s.endpoint.name!)
    }
    return [...seen].sort()
  }
  return { members, routing, picked }
}

describe('the routing table, alone', () => {
  it('routes to fit endpoints only (healthy, probation), and marks them eligible', () => {
    const { members, picked } = setup(['healthy', 'ejected', 'probation', 'unhealthy'])
    expect(picked()).toEqual(['web-0', 'web-2'])
    expect(members.map((s) => s.eligible)).toEqual([true, false, true, false])
  })

  it('enters panic below the threshold and routes to every checked endpoint, never a pending one', () => {
    const { routing, picked } = setup(['healthy', 'ejected', 'unhealthy', 'pending'])
    expect(routing.panic).toBe(true)
    expect([routing.fit, routing.total]).toEqual([1, 3])
    expect(picked()).toEqual(['web-0', 'web-1', 'web-2'])
  })

  it('serves the lowest SRV priority level with a fit endpoint, failing over to the next', () => {
    const { members, routing, picked } = setup(['healthy', 'healthy', 'healthy'], 0)
    members[0]!.priority = 0
    members[1]!.priority = 1
    members[2]!.priority = 1
    routing.rebuild(members)
    expect(picked()).toEqual(['web-0'])
    members[0]!.health = 'ejected'
    routing.rebuild(members)
    expect(picked()).toEqual(['web-1', 'web-2'])
  })

  it('leaves stalled endpoints out, unless every eligible one is stalled', () => {
    const { members, routing, picked } = setup(['healthy', 'healthy'])
    members[0]!.stalled = 1
    routing.rebuild(members)
    expect(picked()).toEqual(['web-1'])
    members[1]!.stalled = 1
    routing.rebuild(members)
    expect(picked()).toEqual(['web-0', 'web-1'])
  })

  it('selects by plan: primary, replica, the preferred forms and nearest', () => {
    const { members, routing, picked } = setup(['healthy', 'healthy', 'healthy'], 0)
    members[0]!.role = 'primary'
    members[1]!.role = 'replica'
    members[2]!.role = 'replica'
    routing.rebuild(members)
    expect(routing.primary).toBe(members[0])
    expect(picked(SELECT_PRIMARY)).toEqual(['web-0'])
    expect(picked(SELECT_REPLICA)).toEqual(['web-1', 'web-2'])
    expect(picked(SELECT_NEAREST)).toEqual(['web-0', 'web-1', 'web-2'])
    members[1]!.health = 'ejected'
    members[2]!.health = 'ejected'
    routing.rebuild(members)
    expect(picked(SELECT_REPLICA)).toEqual(['none'])
    expect(picked(SELECT_REPLICA_PREFERRED)).toEqual(['web-0'])
    expect(routing.select(SELECT_PRIMARY, undefined, [members[0]!.id])).toBeUndefined()
    members[0]!.health = 'ejected'
    members[1]!.health = 'healthy'
    routing.rebuild(members)
    expect(picked(SELECT_PRIMARY)).toEqual(['none'])
    expect(picked(SELECT_PRIMARY_PREFERRED)).toEqual(['web-1'])
  })

  it('routes nothing once cleared', () => {
    const { routing, picked } = setup(['healthy'])
    routing.clear()
    expect(picked()).toEqual(['none'])
    expect(routing.primary).toBeUndefined()
  })
})
