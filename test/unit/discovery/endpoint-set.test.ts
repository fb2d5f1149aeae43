import { describe, expect, it } from 'vitest'
import { EndpointSet } from '../../../src/discovery/endpoint-set.js'
import type { Endpoint } from '../../../src/endpoint.js'

const pod = (n: number, address: string): Endpoint => ({
  id: `web-${n}.web.default.svc.cluster.local`,
  address,
  family: 4,
  port: 8080,
  hostname: `web-${n}.web.default.svc.cluster.local`,
  name: `web-${n}`,
  ordinal: n,
})

describe('EndpointSet', () => {
  it('reports added, removed and updated, ordered by ordinal', () => {
    const set = new EndpointSet()
    const first = set.apply([pod(1, '127.0.10.2'), pod(0, '127.0.10.1')])!
    expect(first.added.map((e) => e.name)).toEqual(['web-0', 'web-1'])
    expect(first.endpoints.map((e) => e.name)).toEqual(['web-0', 'web-1'])
    const kept = set.endpoints[0]

    const second = set.apply([pod(0, '127.0.10.1'), pod(1, '127.0.10.9'), pod(2, '127.0.10.3')])!
    expect(second.added.map((e) => e.name)).toEqual(['web-2'])
    expect(second.removed).toEqual([])
    expect(second.updated).toHaveLength(1)
    expect(second.updated[0]!.previous.address).toBe('127.0.10.2')
    expect(second.updated[0]!.current.address).toBe('127.0.10.9')
    expect(second.updated[0]!.current.id).toBe(second.updated[0]!.previous.id)
    // An unchanged endpoint keeps its very object.
    expect(set.endpoints[0]).toBe(kept)

    const third = set.apply([pod(2, '127.0.10.3')])!
    expect(third.removed.map((e) => e.name)).toEqual(['web-0', 'web-1'])
  })

  it('returns undefined when nothing changed, whatever the order and duplicates', () => {
    const set = new EndpointSet()
    set.apply([pod(0, '127.0.10.1'), pod(1, '127.0.10.2')])
    const before = set.endpoints
    expect(set.apply([pod(1, '127.0.10.2'), pod(0, '127.0.10.1'), pod(0, '127.0.10.1')])).toBeUndefined()
    expect(set.endpoints).toBe(before)
  })

  it('hands out fresh frozen snapshots', () => {
    const set = new EndpointSet()
    set.apply([pod(0, '127.0.10.1')])
    const a = set.endpoints
    set.apply([pod(0, '127.0.10.1'), pod(1, '127.0.10.2')])
    expect(a).toHaveLength(1)
    expect(Object.isFrozen(set.endpoints)).toBe(true)
    expect(Object.isFrozen(set.endpoints[0])).toBe(true)
    expect(set.endpoints).not.toBe(a)
  })
})
