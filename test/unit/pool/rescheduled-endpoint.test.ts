import { describe, expect, it } from 'vitest'
import type { Endpoint } from '../../../src/endpoint.js'
import { NoPrimaryError } from '../../../src/errors.js'
import type { HealthEvent } from '../../../src/pool.js'
import { createPool } from '../../../src/pool.js'
import { FakeClock } from '../../support/fake-clock.js'
import { FakeSource, statefulSet } from './fakes.js'

const settle = () => new Promise((resolve) => setImmediate(resolve))

/** The StatefulSet with pod `name` rescheduled to `address` (same id, new IP): an `updated` change. */
function moved(n: number, name: string, address: string, base = 'web'): Endpoint[] {
  return statefulSet(n, base).map((e) => (e.name === name ? { ...e, address } : e))
}

describe('a pod rescheduled with a new IP (same id)', () => {
  it('is not kept out by an ejection earned at its old address, but keeps its ejection count', () => {
    const source = new FakeSource(statefulSet(3))
    const clock = new FakeClock()
    // round-robin: six picks must reach every endpoint (a fixed random source makes P2C pick one pair).
    const pool = createPool(
      { service: 'web', balancer: 'round-robin', panicThreshold: 0 },
      { source, clock, random: () => 0 },
    )
    const health: HealthEvent[] = []
    pool.on('health', (e) => health.push(e))
    const old = pool.endpoints[1]!
    pool
      .acquire({ exclude: pool.endpoints.filter((e) => e !== old) })
      .release({ ok: false, kind: 'connect-refused' })
    expect(pool.ejected).toBe(1)

    source.set(moved(3, 'web-1', '127.0.10.99'))
    expect(pool.ejected).toBe(0)
    expect(pool.stats().endpoints[1]).toMatchObject({
      state: 'healthy',
      ejections: 1,
      consecutiveFailures: 0,
    })
    expect(health.at(-1)).toMatchObject({ state: 'healthy', previous: 'ejected', reason: 'address-changed' })
    const picked = new Set(Array.from({ length: 6 }, () => pool.pick().address))
    expect(picked).toContain('127.0.10.99')
    // The stall sweep the lease armed runs once more, finds nothing waiting and stops.
    clock.advance(25)
    expect(clock.pending).toBe(0) // the old ejection's timer is gone
  })

  it('a weight-only update keeps the ejection: the server is the same', () => {
    const source = new FakeSource(statefulSet(3))
    const pool = createPool({ service: 'web', panicThreshold: 0 }, { source, clock: new FakeClock() })
    const web1 = pool.endpoints[1]!
    pool
      .acquire({ exclude: pool.endpoints.filter((e) => e !== web1) })
      .release({ ok: false, kind: 'connect-refused' })
    source.set(statefulSet(3).map((e) => ({ ...e, weight: 50 })))
    expect(pool.stats().endpoints[1]).toMatchObject({ state: 'ejected' })
    expect(pool.ejected).toBe(1)
  })

  it('is checked at its new address at once; a check of the old address still running does not count', async () => {
    const source = new FakeSource(statefulSet(2))
    const clock = new FakeClock()
    const checked: string[] = []
    const check = (endpoint: Endpoint): Promise<boolean> => {
      checked.push(endpoint.address)
      // The old address hangs (the pod is gone); the new one answers.
      return endpoint.address === '127.0.10.2' ? new Promise<boolean>(() => {}) : Promise.resolve(true)
    }
    const pool = createPool(
      {
        service: 'web',
        panicThreshold: 0,
        healthCheck: {
          check,
          interval: 10_000,
          timeout: 5_000,
          unhealthyThreshold: 1,
          initialState: 'unhealthy',
        },
      },
      { source, clock, random: () => 0.5 },
    )
    await settle()
    expect(pool.stats().endpoints.map((e) => e.state)).toEqual(['healthy', 'pending'])
    source.set(moved(2, 'web-1', '127.0.10.99'))
    expect(checked.at(-1)).toBe('127.0.10.99') // not after the old check's timeout, nor an interval later
    await settle()
    expect(pool.stats().endpoints[1]).toMatchObject({ state: 'healthy', checksFailed: 0 })
    clock.advance(5_000) // the old check's timeout, had it still been running
    await settle()
    expect(pool.stats().endpoints[1]).toMatchObject({ state: 'healthy', checksFailed: 0 })
  })

  it('starts a new server at the initial health state, as a new endpoint would', async () => {
    const source = new FakeSource(statefulSet(2))
    const clock = new FakeClock()
    let answer: (passed: boolean) => void = () => {}
    const check = (endpoint: Endpoint): Promise<boolean> =>
      endpoint.address === '127.0.10.99'
        ? new Promise<boolean>((resolve) => {
            answer = resolve
          })
        : Promise.resolve(true)
    const pool = createPool(
      { service: 'web', panicThreshold: 0, healthCheck: { check, initialState: 'unhealthy' } },
      { source, clock, random: () => 0.5 },
    )
    await settle()
    expect(pool.stats().endpoints.map((e) => e.state)).toEqual(['healthy', 'healthy'])
    source.set(moved(2, 'web-1', '127.0.10.99'))
    // No traffic to the new server before its first check passes, as initialState 'unhealthy' says.
    expect(pool.stats().endpoints[1]!.state).toBe('pending')
    for (let i = 0; i < 4; i++) expect(pool.pick().name).toBe('web-0')
    answer(true)
    await settle()
    expect(pool.stats().endpoints[1]!.state).toBe('healthy')
  })

  it('under a probe, does not inherit the role its old address answered; the probe asks the new one at once', async () => {
    const source = new FakeSource(statefulSet(2, 'db'))
    const clock = new FakeClock()
    const roles = new Map<string, 'primary' | 'replica'>([
      ['127.0.10.1', 'primary'],
      ['127.0.10.2', 'replica'],
      ['127.0.10.99', 'replica'], // db-0 came back as a standby of the promoted db-1
    ])
    let late: ((role: 'primary' | 'replica') => void) | undefined
    const probe = (endpoint: Endpoint): Promise<'primary' | 'replica'> => {
      if (endpoint.address === '127.0.10.1' && late === undefined && clock.now() > 1_000) {
        // The old address's answer of a round begun before the reschedule, arriving after it.
        return new Promise((resolve) => {
          late = resolve
        })
      }
      return Promise.resolve(roles.get(endpoint.address)!)
    }
    const pool = createPool(
      { service: 'db', primary: { probe, interval: 5_000, timeout: 2_000 } },
      { source, clock, random: () => 0.5 },
    )
    clock.advance(0)
    await settle()
    expect(pool.pick({ role: 'primary' }).name).toBe('db-0')

    clock.advance(5_000) // the next round: db-0's old address has not answered yet
    await settle()
    roles.set('127.0.10.2', 'primary') // failover: db-1 promoted
    source.set(moved(2, 'db-0', '127.0.10.99', 'db'))
    // The primary role belonged to the server at the old address: fail fast until the new one answers.
    expect(() => pool.pick({ role: 'primary' })).toThrow(NoPrimaryError)
    late?.('primary') // the old server's answer, from before the reschedule
    await settle()
    expect(() => pool.pick({ role: 'primary' })).toThrow(NoPrimaryError)
    clock.advance(2_000) // the running round ends (its old-address probe timed out); the requested one runs
    await settle()
    clock.advance(250)
    await settle()
    expect(pool.pick({ role: 'primary' }).name).toBe('db-1')
    expect(pool.stats().endpoints[0]).toMatchObject({ role: 'replica' })
    expect(pool.stats().endpoints[0]!.endpoint.address).toBe('127.0.10.99')
  })

  it('a lease taken at the old address and failed after the move does not count against the new server', () => {
    const source = new FakeSource(statefulSet(3))
    const pool = createPool({ service: 'web', panicThreshold: 0 }, { source, clock: new FakeClock() })
    const web1 = pool.endpoints[1]!
    const lease = pool.acquire({ exclude: pool.endpoints.filter((e) => e !== web1) })
    source.set(moved(3, 'web-1', '127.0.10.99'))
    // The request to the dead address fails after the pod came back elsewhere.
    lease.release({ ok: false, kind: 'connect-refused' })
    expect(pool.ejected).toBe(0)
    expect(pool.stats().endpoints[1]).toMatchObject({ state: 'healthy', inFlight: 0, failures: 0 })
  })
})
