import { describe, expect, it } from 'vitest'
import type { BalancerName } from '../../../src/balancing/balancing-options.js'
import type { Lease } from '../../../src/lease.js'
import type { EjectEvent, Pool, PoolOptions, StallEvent } from '../../../src/pool.js'
import { createPool } from '../../../src/pool.js'
import { FakeClock } from '../../support/fake-clock.js'
import { FakeSource, seededRandom, statefulSet } from '../pool/fakes.js'

const BALANCERS: BalancerName[] = ['round-robin', 'random', 'least-request', 'peak-ewma', 'consistent-hash']

function setup(options: Partial<PoolOptions> = {}, n = 4) {
  const source = new FakeSource(statefulSet(n))
  const clock = new FakeClock()
  const pool = createPool(
    { service: 'web.default.svc.cluster.local', port: 8080, panicThreshold: 0, ...options },
    { source, clock, random: seededRandom(7) },
  )
  const ejections: EjectEvent[] = []
  pool.on('eject', (e) => ejections.push(e))
  return { source, clock, pool, ejections }
}

const id = (name: string) => `${name}.web.default.svc.cluster.local`

/** A lease on the endpoint named `name`, by excluding every other one. */
function leaseOn(pool: Pool, name: string): Lease {
  const lease = pool.acquire({ exclude: pool.endpoints.filter((e) => e.id !== id(name)) })
  expect(lease.endpoint.name).toBe(name)
  return lease
}

/**
 * `ms` of traffic: every 5 ms, four requests; endpoints named in `silent` never answer (their
 * leases are kept in `held`), every other one answers each request in 5 ms.
 */
function traffic(
  pool: Pool,
  clock: FakeClock,
  ms: number,
  options: { key?: boolean; silent?: ReadonlyArray<string>; held?: Lease[] } = {},
): Map<string, number> {
  const picks = new Map<string, number>()
  for (let t = 0; t < ms; t += 5) {
    clock.advance(5)
    for (let i = 0; i < 4; i++) {
      const lease = pool.acquire(options.key ? { key: `user-${t}-${i}` } : undefined)
      const name = lease.endpoint.name!
      picks.set(name, (picks.get(name) ?? 0) + 1)
      if (options.silent?.includes(name)) options.held?.push(lease)
      else lease.release({ ok: true, latency: 5 })
    }
  }
  return picks
}

function stats(pool: Pool, name: string) {
  return pool.stats().endpoints.find((e) => e.endpoint.name === name)!
}

describe('stall detection', () => {
  for (const balancer of BALANCERS) {
    it(`${balancer}: an endpoint sitting on unanswered requests gets no new ones until it answers`, () => {
      const { pool, clock } = setup({ balancer })
      const key = balancer === 'consistent-hash'
      traffic(pool, clock, 100, { key })
      const silent = ['web-2']
      const held = [leaseOn(pool, 'web-2'), leaseOn(pool, 'web-2')]
      // Peers answer in 5 ms: 10 x 5 ms is under the 100 ms floor, so 100 ms of silence stalls it.
      traffic(pool, clock, 150, { key, silent, held })
      expect(stats(pool, 'web-2')).toMatchObject({ stalled: true, waiting: held.length })
      const during = traffic(pool, clock, 200, { key, silent, held })
      expect(during.get('web-2') ?? 0).toBe(0)
      expect(during.size).toBe(3)
      // It answers: it takes requests again from the next sweep on.
      for (const lease of held) lease.release({ ok: true, latency: 450 })
      clock.advance(25)
      expect(stats(pool, 'web-2').stalled).toBe(false)
      // (Peak-EWMA itself still avoids it while its average remembers the wait: ~10 s.)
      const after = traffic(pool, clock, 2_000, { key })
      if (balancer !== 'peak-ewma') expect(after.get('web-2') ?? 0).toBeGreaterThan(0)
    })
  }

  it('judges by the pool\u2019s own latency: 10 x the median, when that is above the floor', () => {
    const { pool, clock } = setup({ balancer: 'round-robin' })
    // Every endpoint answers in 50 ms: the stall threshold is about 500 ms, not 100 ms.
    for (let i = 0; i < 8; i++) leaseOn(pool, `web-${i % 4}`).release({ ok: true, latency: 50 })
    const held = [leaseOn(pool, 'web-1')]
    traffic(pool, clock, 300, { silent: ['web-1'], held })
    expect(stats(pool, 'web-1').stalled).toBe(false)
    traffic(pool, clock, 300, { silent: ['web-1'], held })
    expect(stats(pool, 'web-1').stalled).toBe(true)
    for (const lease of held) lease.release({ ok: true, latency: 600 })
  })

  it('a pool-wide slowdown stalls nobody: most endpoints waiting is the pool\u2019s latency now', () => {
    const { pool, clock } = setup({ balancer: 'round-robin' }, 3)
    traffic(pool, clock, 50)
    const held = ['web-0', 'web-1'].map((n) => leaseOn(pool, n))
    traffic(pool, clock, 1_000, { silent: ['web-0', 'web-1'], held })
    expect(pool.stats().endpoints.some((e) => e.stalled)).toBe(false)
    for (const lease of held) lease.release({ ok: true, latency: 1_000 })
  })

  it('when every endpoint of the group is stalled, all of them take requests (one may answer)', () => {
    const { pool, clock } = setup({ balancer: 'round-robin', stallDetection: { latencyMultiplier: 1 } }, 2)
    traffic(pool, clock, 50)
    const held = ['web-0', 'web-1'].map((n) => leaseOn(pool, n))
    clock.advance(150)
    expect(pool.stats().endpoints.map((e) => e.stalled)).toEqual([true, true])
    expect(new Set(Array.from({ length: 4 }, () => pool.pick().name)).size).toBe(2)
    for (const lease of held) lease.release({ ok: false, kind: 'cancelled' })
  })

  it('does not count a pause of the client itself: one late sweep is one sweep', () => {
    const { pool, clock } = setup({ balancer: 'round-robin' })
    traffic(pool, clock, 50)
    const lease = leaseOn(pool, 'web-3')
    // The event loop was blocked for a second: the timers run once, late.
    clock.time += 1_000
    clock.advance(0)
    expect(stats(pool, 'web-3').stalled).toBe(false)
    lease.release({ ok: true, latency: 1_000 })
  })

  it('a lease whose endpoint has answered (a body or stream still being read) is not waiting', () => {
    const { pool, clock } = setup({ balancer: 'round-robin' })
    traffic(pool, clock, 50)
    const stream = leaseOn(pool, 'web-0')
    stream.responded?.()
    traffic(pool, clock, 500)
    expect(stats(pool, 'web-0')).toMatchObject({ stalled: false, waiting: 0, inFlight: 1 })
    stream.release({ ok: true, latency: 3 })
  })

  it('ends when nothing is left waiting (the requests timed out): the endpoint may take a request again', () => {
    const { pool, clock } = setup({ balancer: 'round-robin' })
    traffic(pool, clock, 50)
    const held = [leaseOn(pool, 'web-1')]
    traffic(pool, clock, 200, { silent: ['web-1'], held })
    expect(stats(pool, 'web-1').stalled).toBe(true)
    for (const lease of held) lease.release({ ok: false, kind: 'timeout', latency: 250 })
    clock.advance(25)
    expect(stats(pool, 'web-1')).toMatchObject({ stalled: false, waiting: 0, failures: held.length })
  })

  it('emits `stall` when an endpoint stalls and when it stops (the HTTP layer retires its connections)', () => {
    const { pool, clock } = setup({ balancer: 'round-robin' })
    const events: StallEvent[] = []
    pool.on('stall', (e) => events.push(e))
    traffic(pool, clock, 50)
    const held = [leaseOn(pool, 'web-1')]
    traffic(pool, clock, 200, { silent: ['web-1'], held })
    expect(events).toHaveLength(1)
    expect(events[0]).toMatchObject({ endpoint: { name: 'web-1' }, stalled: true })
    expect(events[0]!.waited).toBeGreaterThanOrEqual(100)
    for (const lease of held) lease.release({ ok: true, latency: 250 })
    clock.advance(25)
    expect(events.map((e) => [e.endpoint.name, e.stalled])).toEqual([
      ['web-1', true],
      ['web-1', false],
    ])
  })

  it('stallDetection: false keeps every endpoint in the rotation', () => {
    const { pool, clock } = setup({ balancer: 'round-robin', stallDetection: false })
    traffic(pool, clock, 50)
    const held = [leaseOn(pool, 'web-2')]
    const picks = traffic(pool, clock, 500, { silent: ['web-2'], held })
    expect(stats(pool, 'web-2').stalled).toBe(false)
    expect(picks.get('web-2')).toBeGreaterThan(0)
    for (const lease of held) lease.release({ ok: true, latency: 500 })
  })

  it('rejects bad options naming them', () => {
    expect(() => setup({ stallDetection: { minStallTime: -1 } })).toThrow(/stallDetection.minStallTime/)
    expect(() => setup({ stallDetection: { latencyMultiplier: 0 } })).toThrow(
      /stallDetection.latencyMultiplier/,
    )
    expect(() => setup({ stallDetection: { after: 1 } as never })).toThrow(/stallDetection/)
  })

  it('stops its sweep when nothing is out, and on close', async () => {
    const { pool, clock } = setup()
    traffic(pool, clock, 20)
    clock.advance(50)
    expect(clock.pending).toBe(0)
    const lease = pool.acquire()
    expect(clock.pending).toBe(1)
    await pool.close()
    expect(clock.pending).toBe(0)
    lease.release({ ok: true, latency: 1 })
  })
})

describe('pending work is latency', () => {
  it('peak-EWMA: a request waiting longer than the average raises it, before the request ends', () => {
    const { pool, clock } = setup({ balancer: 'peak-ewma', stallDetection: false })
    traffic(pool, clock, 100)
    const stuck = leaseOn(pool, 'web-0')
    traffic(pool, clock, 300)
    expect(stats(pool, 'web-0').ewma).toBeGreaterThanOrEqual(250)
    const picks = traffic(pool, clock, 200)
    expect(picks.get('web-0') ?? 0).toBe(0)
    stuck.release({ ok: true, latency: 600 })
  })
})

describe('timeouts in outlier detection', () => {
  it('consecutive timeouts eject (5 by default), with the time waited as latency', () => {
    const { pool, clock, ejections } = setup({ balancer: 'round-robin', stallDetection: false })
    traffic(pool, clock, 50)
    for (let i = 0; i < 4; i++) leaseOn(pool, 'web-3').release({ ok: false, kind: 'timeout', latency: 2_000 })
    expect(ejections).toEqual([])
    expect(stats(pool, 'web-3').ewma).toBeGreaterThanOrEqual(1_999)
    leaseOn(pool, 'web-3').release({ ok: false, kind: 'timeout', latency: 2_000 })
    expect(ejections).toMatchObject([{ endpoint: { name: 'web-3' }, reason: 'consecutive-failures' }])
  })
})
