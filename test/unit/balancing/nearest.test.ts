import { describe, expect, it } from 'vitest'
import { createPool } from '../../../src/pool.js'
import { FakeClock } from '../../support/fake-clock.js'
import { FakeSource, seededRandom, statefulSet } from '../pool/fakes.js'

// readPreference 'nearest' as the MongoDB driver selects servers: every fit endpoint of either
// role whose EWMA latency is within `nearestThreshold` ms of the lowest, then power of two
// choices on in-flight leases among those.
describe("readPreference 'nearest'", () => {
  function setup(size: number, extra: Record<string, unknown> = {}) {
    const source = new FakeSource(statefulSet(size, 'db'))
    const clock = new FakeClock()
    const pool = createPool(
      // round-robin: sample() below feeds one latency to each endpoint through a rotation.
      { service: 'db', balancer: 'round-robin', panicThreshold: 0, primary: { ordinal: 0 }, ...extra },
      { source, clock, random: seededRandom(7) },
    )
    return { pool, source, clock }
  }

  /** One latency sample per endpoint, fed through round-robin leases (the pool's balancer here). */
  function sample(pool: ReturnType<typeof setup>['pool'], latencies: Record<string, number>): void {
    const count = Object.keys(latencies).length
    for (let i = 0; i < count; i++) {
      const lease = pool.acquire()
      lease.release({ ok: true, latency: latencies[lease.endpoint.name!]! })
    }
  }

  function counts(pool: ReturnType<typeof setup>['pool'], picks: number): Record<string, number> {
    const seen: Record<string, number> = {}
    for (let i = 0; i < picks; i++) {
      const name = pool.pick({ readPreference: 'nearest' }).name!
      seen[name] = (seen[name] ?? 0) + 1
    }
    return seen
  }

  it('spreads traffic over every endpoint within the window, and none to one slower than it', () => {
    const { pool } = setup(4)
    sample(pool, { 'db-0': 10, 'db-1': 12, 'db-2': 24, 'db-3': 100 })
    const seen = counts(pool, 600)
    expect(seen['db-3']).toBeUndefined()
    for (const name of ['db-0', 'db-1', 'db-2']) expect(seen[name]).toBeGreaterThan(100)
  })

  it('honours nearestThreshold', () => {
    const { pool } = setup(4, { nearestThreshold: 3 })
    sample(pool, { 'db-0': 10, 'db-1': 12, 'db-2': 24, 'db-3': 100 })
    const seen = counts(pool, 300)
    expect(Object.keys(seen).sort()).toEqual(['db-0', 'db-1'])
    expect(seen['db-1']).toBeGreaterThan(50)
  })

  it('nearestThreshold 0 takes the lowest latency only', () => {
    const { pool } = setup(3, { nearestThreshold: 0 })
    sample(pool, { 'db-0': 30, 'db-1': 5, 'db-2': 50 })
    expect(counts(pool, 50)).toEqual({ 'db-1': 50 })
  })

  it('chooses between candidates by in-flight leases (P2C)', () => {
    const { pool } = setup(3)
    sample(pool, { 'db-0': 10, 'db-1': 11, 'db-2': 200 })
    const held = []
    for (let i = 0; i < 20; i++) held.push(pool.acquire({ readPreference: 'nearest' }))
    const inFlight = Object.fromEntries(pool.stats().endpoints.map((s) => [s.endpoint.name, s.inFlight]))
    // Two candidates: P2C draws both and always takes the less loaded one.
    expect(inFlight).toEqual({ 'db-0': 10, 'db-1': 10, 'db-2': 0 })
    for (const lease of held) lease.release({ ok: true, latency: 10 })
  })

  it('gives a fresh endpoint (no latency sample yet) traffic, but not all of it', () => {
    const { pool, source } = setup(3)
    sample(pool, { 'db-0': 10, 'db-1': 11, 'db-2': 12 })
    source.set(statefulSet(4, 'db'))
    const seen = counts(pool, 800)
    expect(seen['db-3']).toBeGreaterThan(100)
    expect(seen['db-3']).toBeLessThan(400)
    for (const name of ['db-0', 'db-1', 'db-2']) expect(seen[name]).toBeGreaterThan(100)
  })

  it('stops sending to a fresh endpoint once its first sample is outside the window', () => {
    const { pool, source } = setup(3)
    sample(pool, { 'db-0': 10, 'db-1': 11, 'db-2': 12 })
    source.set(statefulSet(4, 'db'))
    let lease = pool.acquire({ readPreference: 'nearest' })
    while (lease.endpoint.name !== 'db-3') {
      lease.release({ ok: true, latency: 10 })
      lease = pool.acquire({ readPreference: 'nearest' })
    }
    lease.release({ ok: true, latency: 300 })
    expect(counts(pool, 200)['db-3']).toBeUndefined()
  })

  it('with no sample anywhere, spreads over all fit endpoints', () => {
    const { pool } = setup(3)
    const seen = counts(pool, 300)
    for (const name of ['db-0', 'db-1', 'db-2']) expect(seen[name]).toBeGreaterThan(50)
  })

  it('skips excluded endpoints and still answers with one candidate left', () => {
    const { pool } = setup(3)
    sample(pool, { 'db-0': 10, 'db-1': 11, 'db-2': 200 })
    const db0 = pool.stats().endpoints.find((s) => s.endpoint.name === 'db-0')!.endpoint
    for (let i = 0; i < 20; i++)
      expect(pool.pick({ readPreference: 'nearest', exclude: [db0] }).name).toBe('db-1')
  })

  it('validates nearestThreshold', () => {
    const source = new FakeSource(statefulSet(1, 'db'))
    expect(() => createPool({ service: 'db', nearestThreshold: -1 }, { source })).toThrow(RangeError)
    expect(() => createPool({ service: 'db', nearestThreshold: -1 }, { source })).toThrow(/nearestThreshold/)
    expect(() => createPool({ service: 'db', nearestThreshold: '15' } as never, { source })).toThrow(
      TypeError,
    )
    expect(() => createPool({ service: 'db', nearestThreshold: Number.NaN }, { source })).toThrow(
      /nearestThreshold/,
    )
    expect(() => createPool({ service: 'db', localThresholdMS: 15 } as never, { source })).toThrow(
      /localThresholdMS/,
    )
    expect(() => createPool({ service: 'db', nearestThreshold: 0 }, { source })).not.toThrow()
  })
})
