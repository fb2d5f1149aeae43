import { describe, expect, it } from 'vitest'
import { EndpointState } from '../../../src/health/endpoint-state.js'
import { noEndpointsReason, noPrimaryReason } from '../../../src/pool/no-endpoint-reason.js'
import { statefulSet } from './fakes.js'

function members(healths: EndpointState['health'][], roles: EndpointState['role'][] = []): EndpointState[] {
  return statefulSet(healths.length).map((e, i) => {
    const state = new EndpointState(e)
    state.health = healths[i]!
    state.role = roles[i] ?? 'unknown'
    return state
  })
}

describe('why no endpoint could take a request', () => {
  it('says discovery lists nothing when there are no members', () => {
    expect(noEndpointsReason('any', [], { kind: 'none' }, undefined, undefined)).toBe(
      'discovery lists no endpoint',
    )
  })

  it('counts the members by health, and says when exclusions played a part', () => {
    const list = members(['ejected', 'unhealthy', 'ejected'])
    expect(noEndpointsReason('any', list, { kind: 'none' }, undefined, undefined)).toBe(
      'none of 3 endpoints is fit (2 ejected, 1 unhealthy)',
    )
    expect(noEndpointsReason('any', list, { kind: 'none' }, undefined, [list[1]!.endpoint])).toBe(
      'none of 3 endpoints is fit and not excluded (2 ejected, 1 unhealthy)',
    )
  })

  it('explains replica requests by what is known of the roles', () => {
    const unknown = members(['healthy', 'healthy'])
    expect(noEndpointsReason('replica', unknown, { kind: 'none' }, undefined, undefined)).toMatch(
      /roles are unknown \(no primary option\)/,
    )
    expect(noEndpointsReason('replica', unknown, { kind: 'ordinal', ordinal: 0 }, undefined, undefined)).toBe(
      'none of 2 endpoints is known to be a replica and no primary is known',
    )
    const roles = members(['healthy', 'ejected'], ['primary', 'replica'])
    expect(noEndpointsReason('replica', roles, { kind: 'ordinal', ordinal: 0 }, roles[0], undefined)).toBe(
      'no replica is fit',
    )
    expect(
      noEndpointsReason('replicaPreferred', roles, { kind: 'ordinal', ordinal: 0 }, roles[0], ['x']),
    ).toBe('no replica or primary is fit and not excluded')
    expect(noEndpointsReason('nearest', unknown, { kind: 'none' }, undefined, undefined)).toMatch(
      /nearest chooses among primary and replicas/,
    )
  })
})

describe('why no primary could take a request', () => {
  it('names the option, the missing match, or the primary and its health', () => {
    const [primary] = members(['ejected'], ['primary'])
    expect(noPrimaryReason({ kind: 'none' }, undefined, undefined)).toBe('no primary option is configured')
    expect(noPrimaryReason({ kind: 'ordinal', ordinal: 2 }, undefined, undefined)).toBe(
      'no endpoint matches ordinal 2',
    )
    expect(noPrimaryReason({ kind: 'name', name: 'db-9' }, undefined, undefined)).toBe(
      'no endpoint matches name db-9',
    )
    expect(noPrimaryReason({ kind: 'ordinal', ordinal: 0 }, primary, undefined)).toMatch(
      /^the primary .* is ejected$/,
    )
    expect(noPrimaryReason({ kind: 'ordinal', ordinal: 0 }, primary, [primary!.id])).toMatch(
      /^the primary .* is excluded$/,
    )
  })
})
