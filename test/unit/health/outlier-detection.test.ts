import { describe, expect, it } from 'vitest'
import type { EjectEvent, HealthEvent, PanicEvent, PoolOptions } from '../../../src/pool.js'
import { createPool } from '../../../src/pool.js'
import { FakeClock } from '../../support/fake-clock.js'
import { FakeSource, seededRandom, statefulSet } from '../pool/fakes.js'

function setup(options: Partial<PoolOptions> = {}, n = 4) {
  const source = new FakeSource(statefulSet(n))
  const clock = new FakeClock()
  const pool = createPool(
    { service: 'web.default.svc.cluster.local', port: 8080, panicThreshold: 0, ...options },
    { source, clock, random: () => 0 },
  )
  const ejections: EjectEvent[] = []
  const health: HealthEvent[] = []
  const panics: PanicEvent[] = []
  pool.on('eject', (e) => ejections.push(e))
  pool.on('health', (e) => health.push(e))
  pool.on('panic', (e) => panics.push(e))
  return { source, clock, pool, ejections, health, panics }
}

/** Fails `times` leases on the endpoint named `name`. */
function fail(
  pool: ReturnType<typeof setup>['pool'],
  name: string,
  times: number,
  kind?: 'connect-refused' | 'status' | 'cancelled',
) {
  const id = `${name}.web.default.svc.cluster.local`
  for (let i = 0; i < times; i++) {
    const others = pool.endpoints.filter((e) => e.id !== id)
    const lease = pool.acquire({ exclude: others })
    expect(lease.endpoint.id).toBe(id)
    lease.release({ ok: false, ...(kind ? { kind } : {}), latency: 1 })
  }
}

describe('outlier detection', () => {
  it('does not count cancelled attempts (the caller gave up) against the endpoint', () => {
    const { pool, ejections } = setup({ outlierDetection: { consecutiveFailures: 3 } })
    fail(pool, 'web-1', 10, 'cancelled')
    expect(ejections).toEqual([])
    const stats = pool.stats().endpoints.find((e) => e.endpoint.name === 'web-1')!
    expect(stats).toMatchObject({ inFlight: 0, failures: 0, consecutiveFailures: 0, state: 'healthy' })
    // A cancelled attempt breaks no run of failures either: two real ones after it still count.
    fail(pool, 'web-1', 2)
    fail(pool, 'web-1', 1, 'cancelled')
    fail(pool, 'web-1', 1)
    expect(ejections).toHaveLength(1)
  })

  it('ejects at the failure that crosses consecutiveFailures, inline', () => {
    const { pool, ejections } = setup({ outlierDetection: { consecutiveFailures: 3 } })
    fail(pool, 'web-1', 2, 'status')
    expect(ejections).toHaveLength(0)
    fail(pool, 'web-1', 1, 'status')
    expect(ejections).toMatchObject([{ reason: 'consecutive-failures', ejections: 1, duration: 30_000 }])
    for (let i = 0; i < 20; i++) expect(pool.pick().name).not.toBe('web-1')
  })

  it('a success resets the count', () => {
    const { pool, ejections } = setup({ outlierDetection: { consecutiveFailures: 2 } })
    fail(pool, 'web-1', 1)
    const lease = pool.acquire({ exclude: pool.endpoints.filter((e) => e.name !== 'web-1') })
    lease.release({ ok: true, latency: 1 })
    fail(pool, 'web-1', 1)
    expect(ejections).toHaveLength(0)
  })

  it('ejects on the first refused connect, and asks discovery to refresh', () => {
    const { pool, source, ejections } = setup()
    fail(pool, 'web-2', 1, 'connect-refused')
    expect(ejections).toMatchObject([{ reason: 'connect-refused' }])
    expect(source.refreshes).toBe(1)
  })

  it('can be told not to eject on a refused connect', () => {
    const { pool, ejections } = setup({ outlierDetection: { ejectOnConnectRefused: false } })
    fail(pool, 'web-2', 4, 'connect-refused')
    expect(ejections).toHaveLength(0)
  })

  it('doubles each ejection in a row, with jitter, capped at maxEjectionTime', () => {
    const source = new FakeSource(statefulSet(4))
    const clock = new FakeClock()
    const pool = createPool(
      {
        service: 'web',
        panicThreshold: 0,
        outlierDetection: { baseEjectionTime: 1_000, maxEjectionTime: 5_000, jitter: 0.5, probation: 100 },
      },
      { source, clock, random: () => 0.5 },
    )
    const durations: number[] = []
    pool.on('eject', (e) => durations.push(e.duration))
    for (let round = 0; round < 5; round++) {
      fail(pool, 'web-0', 1, 'connect-refused')
      clock.advance(durations.at(-1)!) // back, on probation
      expect(pool.stats().endpoints[0]!.state).toBe('probation')
    }
    // 1000 * 2^(n-1) * 1.25 jitter, capped at 5000.
    expect(durations).toEqual([1_250, 2_500, 5_000, 5_000, 5_000])
  })

  it('returns on probation: a ramped share, one failure re-ejects, then full health', () => {
    const { pool, clock, ejections, health } = setup({
      outlierDetection: { baseEjectionTime: 1_000, jitter: 0, probation: 10_000 },
    })
    fail(pool, 'web-0', 1, 'connect-refused')
    clock.advance(1_000)
    expect(health.at(-1)).toMatchObject({ state: 'probation', previous: 'ejected', reason: 'returned' })
    fail(pool, 'web-0', 1, 'status') // one failure on probation
    expect(ejections.at(-1)).toMatchObject({ reason: 'probation', duration: 2_000, ejections: 2 })
    clock.advance(2_000)
    clock.advance(10_000)
    expect(health.at(-1)).toMatchObject({
      state: 'healthy',
      previous: 'probation',
      reason: 'probation-ended',
    })
  })

  it('on probation an endpoint gets a small, growing share of picks', () => {
    const source = new FakeSource(statefulSet(2))
    const clock = new FakeClock()
    const pool = createPool(
      { service: 'web', panicThreshold: 0, outlierDetection: { baseEjectionTime: 1_000, probation: 10_000 } },
      { source, clock, random: seededRandom(7) },
    )
    fail(pool, 'web-0', 1, 'connect-refused')
    clock.advance(1_100) // 100 ms of ejection jitter at most
    const share = () => {
      let hits = 0
      for (let i = 0; i < 2000; i++) if (pool.pick().name === 'web-0') hits++
      return hits / 2000
    }
    const early = share()
    clock.advance(8_000)
    const late = share()
    expect(early).toBeLessThan(0.2)
    expect(late).toBeGreaterThan(early)
  })

  it('never ejects more than maxEjectionPercent, but always allows one', () => {
    const { pool, ejections } = setup({ outlierDetection: { maxEjectionPercent: 10 } }, 4)
    fail(pool, 'web-0', 1, 'connect-refused')
    fail(pool, 'web-1', 1, 'connect-refused')
    expect(ejections.map((e) => e.endpoint.name)).toEqual(['web-0'])
    expect(pool.stats().ejectionsPrevented).toBe(1)
  })

  it('keeps state by id across an update (new IP), and drops it on removal', () => {
    const { pool, source } = setup({})
    fail(pool, 'web-1', 1, 'connect-refused')
    const moved = statefulSet(4).map((e) => (e.name === 'web-1' ? { ...e, address: '127.0.10.99' } : e))
    source.set(moved)
    const stats = pool.stats().endpoints.find((e) => e.endpoint.name === 'web-1')!
    // The ejection was earned by the old address (test/unit/pool/rescheduled-endpoint.test.ts); the count stays.
    expect(stats).toMatchObject({ state: 'healthy', ejections: 1, requests: 1, failures: 1 })
    expect(stats.endpoint.address).toBe('127.0.10.99')
    fail(pool, 'web-1', 1, 'connect-refused')
    expect(pool.ejected).toBe(1)
    source.set(moved.filter((e) => e.name !== 'web-1'))
    expect(pool.ejected).toBe(0)
  })

  it('counts failures as slow for EWMA, so fast 503s do not look fast', () => {
    const { pool } = setup({ outlierDetection: false, ewma: { failurePenalty: 800 } })
    fail(pool, 'web-0', 3, 'status')
    expect(pool.stats().endpoints[0]!.ewma).toBeGreaterThanOrEqual(800)
  })
})

describe('panic mode', () => {
  it('routes across all endpoints when the fit share falls below the threshold, and says so', () => {
    const { pool, clock, panics } = setup(
      {
        // round-robin: eight picks must reach all four endpoints to show panic routes to all.
        balancer: 'round-robin',
        panicThreshold: 0.5,
        outlierDetection: { maxEjectionPercent: 100, baseEjectionTime: 1_000, jitter: 0 },
      },
      4,
    )
    fail(pool, 'web-0', 1, 'connect-refused')
    fail(pool, 'web-1', 1, 'connect-refused')
    expect(pool.panic).toBe(false) // 2 of 4 fit: not below 50%
    fail(pool, 'web-2', 1, 'connect-refused')
    expect(panics).toEqual([{ panic: true, healthy: 1, total: 4 }])
    const names = new Set(Array.from({ length: 8 }, () => pool.pick().name))
    expect(names.size).toBe(4)
    clock.advance(1_000)
    expect(panics.at(-1)).toMatchObject({ panic: false })
    expect(pool.pick().name).toBeDefined()
  })

  it('is off with panicThreshold 0: picks fail rather than reach ejected endpoints', () => {
    const { pool } = setup({ outlierDetection: { maxEjectionPercent: 100 } }, 2)
    fail(pool, 'web-0', 1, 'connect-refused')
    fail(pool, 'web-1', 1, 'connect-refused')
    expect(() => pool.pick()).toThrow(/none of 2 endpoints is fit \(2 ejected\)/)
  })
})

describe('slow start', () => {
  it('ramps an endpoint added after the first resolution, not the first ones', () => {
    const source = new FakeSource(statefulSet(2))
    const clock = new FakeClock()
    const pool = createPool(
      { service: 'web', slowStart: { window: 10_000, minShare: 0.1 } },
      { source, clock, random: seededRandom(3) },
    )
    source.set(statefulSet(3))
    const share = () => {
      let hits = 0
      for (let i = 0; i < 3000; i++) if (pool.pick().name === 'web-2') hits++
      return hits / 3000
    }
    const start = share()
    clock.advance(5_000)
    const middle = share()
    clock.advance(5_000)
    const end = share()
    expect(start).toBeLessThan(0.1)
    expect(middle).toBeGreaterThan(start)
    expect(end).toBeCloseTo(1 / 3, 1)
  })
})
