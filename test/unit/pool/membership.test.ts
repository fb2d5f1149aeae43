import { describe, expect, it } from 'vitest'
import type { Endpoint, EndpointChange } from '../../../src/endpoint.js'
import { Membership } from '../../../src/pool/membership.js'
import { endpoint, statefulSet } from './fakes.js'

function setup(primary: ConstructorParameters<typeof Membership>[0] = { kind: 'none' }) {
  const calls: string[] = []
  const membership = new Membership(primary, {
    added: (state, _now, seeded) => calls.push(`added ${state.endpoint.name}${seeded ? ' (seeded)' : ''}`),
    readdressed: (state) => calls.push(`readdressed ${state.endpoint.name} ${state.endpoint.address}`),
    removed: (state) => calls.push(`removed ${state.endpoint.name}`),
  })
  return { membership, calls }
}

function change(
  endpoints: Endpoint[],
  parts: Partial<Pick<EndpointChange, 'added' | 'removed' | 'updated'>>,
): EndpointChange {
  return { added: [], removed: [], updated: [], ...parts, endpoints }
}

describe('pool membership, applying discovery’s diff', () => {
  it('adds the first list without slow start, later newcomers with it, in the change’s order', () => {
    const { membership, calls } = setup()
    const [a, b, c] = statefulSet(3)
    membership.apply(Membership.initialChange([a!, b!]), 0)
    expect(membership.apply(change([a!, b!, c!], { added: [c!] }), 0)).toEqual({ moved: [], grew: true })
    expect(calls).toEqual(['added web-0', 'added web-1', 'added web-2 (seeded)'])
    expect(membership.members.map((s) => [s.endpoint.name, s.index])).toEqual([
      ['web-0', 0],
      ['web-1', 1],
      ['web-2', 2],
    ])
  })

  it('keeps the state of an updated pod, and readdresses it only when its address changed', () => {
    const { membership, calls } = setup({ kind: 'ordinal', ordinal: 1 })
    const [a, b] = statefulSet(2)
    membership.apply(Membership.initialChange([a!, b!]), 0)
    const stateB = membership.states.get(b!.id)!
    expect(stateB.role).toBe('primary')
    const reweighted = { ...b!, weight: 5 }
    expect(
      membership.apply(change([a!, reweighted], { updated: [{ previous: b!, current: reweighted }] }), 0),
    ).toEqual({
      moved: [],
      grew: false,
    })
    expect(stateB.weight).toBe(5)
    const moved = endpoint('web-1', '127.0.10.99', 1)
    const result = membership.apply(
      change([a!, moved], { updated: [{ previous: reweighted, current: moved }] }),
      0,
    )
    expect(result).toEqual({ moved: [stateB], grew: true })
    expect(membership.states.get(b!.id)).toBe(stateB)
    expect(stateB.endpoint).toBe(moved)
    expect(calls.slice(2)).toEqual(['readdressed web-1 127.0.10.99'])
  })

  it('removes what the change removes, and what a sloppy change leaves out of its list', () => {
    const { membership, calls } = setup()
    const [a, b, c] = statefulSet(3)
    membership.apply(Membership.initialChange([a!, b!, c!]), 0)
    membership.apply(change([a!, b!], { removed: [c!] }), 0)
    membership.apply(change([a!], {}), 0)
    expect(calls.slice(3)).toEqual(['removed web-2', 'removed web-1'])
    expect([...membership.states.keys()]).toEqual([a!.id])
  })

  it('lists an endpoint once when a source repeats it', () => {
    const { membership } = setup()
    const [a] = statefulSet(1)
    membership.apply(Membership.initialChange([a!, a!]), 0)
    expect(membership.members).toHaveLength(1)
  })
})
