import { describe, expect, it } from 'vitest'
import type { PoolOptions } from '../../../src/pool.js'
import { createPool } from '../../../src/pool.js'
import { FakeClock } from '../../support/fake-clock.js'
import { FakeSource, seededRandom, statefulSet } from './fakes.js'

function setup(options: Partial<PoolOptions> = {}) {
  const clock = new FakeClock()
  const pool = createPool(
    { service: 'web.default.svc.cluster.local', port: 8080, balancer: 'peak-ewma', ...options },
    { source: new FakeSource(statefulSet(2)), clock, random: seededRandom() },
  )
  return { clock, pool }
}

function statsOf(pool: ReturnType<typeof setup>['pool'], name: string | undefined) {
  const s = pool.stats().endpoints.find((e) => e.endpoint.name === name)
  if (s === undefined) throw new Error(`no endpoint ${name}`)
  return s
}

describe('a cancelled lease with a censored latency (a hedge lost the race)', () => {
  it('raises the latency average to the time waited, and counts no failure', () => {
    const { clock, pool } = setup({ outlierDetection: { consecutiveFailures: 1 } })
    const web0 = pool.stats().endpoints[0]!.endpoint
    const answered = pool.acquire({ exclude: [pool.stats().endpoints[1]!.endpoint] })
    expect(answered.endpoint).toBe(web0)
    clock.advance(2)
    answered.release({ ok: true, latency: 2 })
    expect(statsOf(pool, web0.name).ewma).toBeCloseTo(2, 5)

    // Sent, 20 ms without an answer (less than a stall sweep's interval: the sweep censors
    // nothing), then cancelled because another endpoint answered first.
    for (let i = 0; i < 3; i++) {
      const lost = pool.acquire({ exclude: [pool.stats().endpoints[1]!.endpoint] })
      clock.advance(20)
      expect(statsOf(pool, web0.name).ewma).toBeLessThan(20)
      lost.release({ ok: false, kind: 'cancelled', latency: 20, censored: true })
    }
    const after = statsOf(pool, web0.name)
    expect(after.ewma).toBeGreaterThanOrEqual(19.9)
    // Not a failure: no count, no ejection (one failure would eject with consecutiveFailures: 1).
    expect(after).toMatchObject({ failures: 0, ejections: 0, state: 'healthy', inFlight: 0 })
  })

  it('a censored latency below the average leaves the average alone (it is only a lower bound)', () => {
    const { clock, pool } = setup()
    const other = pool.stats().endpoints[1]!.endpoint
    const slow = pool.acquire({ exclude: [other] })
    clock.advance(500)
    slow.release({ ok: true, latency: 500 })
    const before = statsOf(pool, slow.endpoint.name).ewma
    const lost = pool.acquire({ exclude: [other] })
    clock.advance(3)
    lost.release({ ok: false, kind: 'cancelled', latency: 3, censored: true })
    // A plain sample of 3 ms would pull the average down; a censored one says "at least 3 ms".
    expect(statsOf(pool, lost.endpoint.name).ewma).toBeCloseTo(before * Math.exp(-3 / 10_000), 6)
  })

  it('a cancel without censored (the caller gave up) says nothing about the latency', () => {
    const { clock, pool } = setup()
    const lease = pool.acquire()
    clock.advance(40)
    // (Stall detection's sweep has already censored the pending request by the time it waited.)
    const before = statsOf(pool, lease.endpoint.name).ewma
    expect(before).toBeLessThan(40)
    lease.release({ ok: false, kind: 'cancelled', latency: 40 })
    expect(statsOf(pool, lease.endpoint.name)).toMatchObject({ ewma: before, failures: 0 })
  })

  it('peak-EWMA sends the next requests to the endpoint that did not lose the race', () => {
    const { clock, pool } = setup()
    const [a, b] = pool.stats().endpoints.map((e) => e.endpoint)
    for (const e of [a!, b!]) {
      const lease = pool.acquire({ exclude: [e === a ? b! : a!] })
      clock.advance(1)
      lease.release({ ok: true, latency: 1 })
    }
    const lost = pool.acquire({ exclude: [b!] })
    clock.advance(20)
    lost.release({ ok: false, kind: 'cancelled', latency: 20, censored: true })
    const picks = Array.from({ length: 20 }, () => pool.pick().name)
    expect(new Set(picks)).toEqual(new Set([b!.name]))
  })
})

describe("the answer's time a caller passes with its outcome (releaseAnswered)", () => {
  type Answered = { releaseAnswered(latency: number, at: number): void }

  it('is ignored by a pool on another clock than performance.now()', () => {
    const { clock, pool } = setup()
    const lease = pool.acquire() as unknown as Answered & { endpoint: { name?: string } }
    clock.advance(4)
    // A reading far in the future on the system clock's time base: a fake-clock pool must not take it.
    lease.releaseAnswered(4, 1e12)
    clock.advance(10_000)
    // Decayed over the fake clock's 10 s (one time constant), not over ~1e12 ms.
    expect(statsOf(pool, lease.endpoint.name).ewma).toBeCloseTo(4 * Math.exp(-1), 5)
  })
})
