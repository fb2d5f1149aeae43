import { describe, expect, it } from 'vitest'
import { PickContext } from '../../../src/balancing/balancer.js'
import { LatencyTracker } from '../../../src/balancing/latency-tracker.js'
import { NearestBalancer } from '../../../src/balancing/nearest-balancer.js'
import { secondRank } from '../../../src/balancing/p2c.js'
import { EndpointState } from '../../../src/health/endpoint-state.js'
import { seededRandom, statefulSet } from '../pool/fakes.js'

function setup(latencies: Array<number | undefined>, threshold = 15) {
  const context = new PickContext(1_000, 10_000, seededRandom(3))
  const states = statefulSet(latencies.length, 'db').map((e) => new EndpointState(e))
  const tracker = new LatencyTracker(context, new Map(states.map((s) => [s.id, s])))
  states.forEach((s, i) => {
    s.eligible = true
    s.role = i === 0 ? 'primary' : 'replica'
    if (latencies[i] !== undefined) tracker.observe(s, latencies[i]!)
  })
  const nearest = new NearestBalancer(context, threshold)
  nearest.update(states, 0)
  const picks = (n: number) => {
    const seen = new Map<string, number>()
    for (let i = 0; i < n; i++) {
      const name = nearest.pick(undefined)?.endpoint.name ?? 'none'
      seen.set(name, (seen.get(name) ?? 0) + 1)
    }
    return seen
  }
  return { states, nearest, picks }
}

describe('the nearest balancer, alone', () => {
  it('picks only among the endpoints within the threshold of the lowest latency', () => {
    const { picks } = setup([10, 20, 200])
    const seen = picks(200)
    expect([...seen.keys()].sort()).toEqual(['db-0', 'db-1'])
  })

  it('counts an endpoint with no sample yet as inside the window', () => {
    const { picks } = setup([10, undefined, 200])
    expect([...picks(200).keys()].sort()).toEqual(['db-0', 'db-1'])
  })

  it('of the two drawn, takes the one with fewer leases in flight', () => {
    const { states, nearest } = setup([10, 10])
    states[0]!.inFlight = 5
    for (let i = 0; i < 20; i++) expect(nearest.pick(undefined)).toBe(states[1])
  })

  it('leaves out excluded, ineligible, role-less and other-level endpoints', () => {
    const { states, nearest, picks } = setup([10, 10, 10, 10])
    states[1]!.eligible = false
    states[2]!.role = 'unknown'
    states[3]!.priority = 1
    expect([...picks(50).keys()]).toEqual(['db-0'])
    expect(nearest.pick([states[0]!.endpoint])).toBeUndefined()
    nearest.update(states, 1)
    expect(nearest.pick(undefined)).toBe(states[3])
  })
})

describe('the P2C draw', () => {
  it('gives two distinct ranks in range, each rank as often as the others', () => {
    const counts = new Array(5).fill(0)
    for (let t = 0; t < 5_000; t++) {
      const x = ((t * 0.618033988749895) % 1) * 5
      const first = x | 0
      const second = secondRank(x, first, 5)
      expect(second).not.toBe(first)
      expect(second).toBeGreaterThanOrEqual(0)
      expect(second).toBeLessThan(5)
      counts[second]++
    }
    for (const c of counts) expect(c).toBeGreaterThan(800)
  })
})
