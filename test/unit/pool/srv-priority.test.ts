import { describe, expect, it } from 'vitest'
import type { Endpoint } from '../../../src/endpoint.js'
import type { PanicEvent, PoolOptions } from '../../../src/pool.js'
import { createPool } from '../../../src/pool.js'
import { FakeClock } from '../../support/fake-clock.js'
import { endpoint, FakeSource, seededRandom } from './fakes.js'

/** `web-i` with the SRV priority `priorities[i]`. */
function prioritized(priorities: number[]): Endpoint[] {
  return priorities.map((priority, i) => ({ ...endpoint(`web-${i}`, `127.0.10.${i + 1}`, i), priority }))
}

function setup(priorities: number[], options: Partial<PoolOptions> = {}) {
  const source = new FakeSource(prioritized(priorities))
  const clock = new FakeClock()
  const pool = createPool(
    {
      service: 'web.default.svc.cluster.local',
      portName: 'http',
      panicThreshold: 0,
      outlierDetection: { maxEjectionPercent: 100, baseEjectionTime: 1_000, jitter: 0, probation: 0 },
      ...options,
    },
    { source, clock, random: seededRandom() },
  )
  const panics: PanicEvent[] = []
  pool.on('panic', (e) => panics.push(e))
  return { source, clock, pool, panics }
}

/** Ejects `name` with one refused connect (ejectOnConnectRefused is on by default). */
function eject(pool: ReturnType<typeof setup>['pool'], name: string) {
  const lease = pool.acquire({ exclude: pool.endpoints.filter((e) => e.name !== name) })
  expect(lease.endpoint.name).toBe(name)
  lease.release({ ok: false, kind: 'connect-refused', latency: 1 })
  expect(pool.stats().endpoints.find((s) => s.endpoint.name === name)!.state).toBe('ejected')
}

function picked(pool: ReturnType<typeof setup>['pool'], n = 24, options?: Parameters<typeof pool.pick>[0]) {
  return [...new Set(Array.from({ length: n }, () => pool.pick(options).name))].sort()
}

describe('SRV priority (RFC 2782)', () => {
  it('routes only to the lowest priority level while it has a fit endpoint', () => {
    const { pool } = setup([0, 0, 1, 1])
    expect(picked(pool)).toEqual(['web-0', 'web-1'])
    eject(pool, 'web-0')
    expect(picked(pool)).toEqual(['web-1'])
  })

  it('fails over to the next level when the preferred one has none, and back when it returns', () => {
    const { pool, clock } = setup([0, 0, 1, 1, 2])
    eject(pool, 'web-0')
    eject(pool, 'web-1')
    expect(picked(pool)).toEqual(['web-2', 'web-3'])
    eject(pool, 'web-2')
    eject(pool, 'web-3')
    expect(picked(pool)).toEqual(['web-4'])
    clock.advance(1_000)
    expect(picked(pool)).toEqual(['web-0', 'web-1'])
  })

  it('orders levels by number, not by list order, and treats a missing priority as 0', () => {
    const endpoints = [
      { ...endpoint('web-0', '127.0.10.1', 0), priority: 10 },
      { ...endpoint('web-1', '127.0.10.2', 1), priority: 5 },
      endpoint('web-2', '127.0.10.3', 2),
    ]
    const pool = createPool(
      { service: 'web', portName: 'http' },
      { source: new FakeSource(endpoints), clock: new FakeClock(), random: seededRandom() },
    )
    expect(picked(pool)).toEqual(['web-2'])
  })

  it('behaves exactly as without priorities when every endpoint shares one', () => {
    const flat = setup([0, 0, 0])
    const same = setup([7, 7, 7])
    const sequence = (pool: ReturnType<typeof setup>['pool']) =>
      Array.from({ length: 9 }, () => pool.pick().name)
    expect(sequence(same.pool)).toEqual(sequence(flat.pool))
    eject(flat.pool, 'web-1')
    eject(same.pool, 'web-1')
    expect(sequence(same.pool)).toEqual(sequence(flat.pool))
  })

  it('panics by the size of the level in use, spreading over that level only', () => {
    const { pool, panics } = setup([0, 0, 1, 1, 1], { panicThreshold: 0.5 })
    eject(pool, 'web-0')
    eject(pool, 'web-1')
    // Level 0 has none fit: level 1 serves, 3 of its 3 fit.
    expect(pool.panic).toBe(false)
    expect(picked(pool)).toEqual(['web-2', 'web-3', 'web-4'])
    eject(pool, 'web-2')
    expect(pool.panic).toBe(false) // 2 of 3
    eject(pool, 'web-3')
    // 1 of 3: panic within level 1, not over level 0's ejected endpoints.
    expect(panics).toEqual([{ panic: true, healthy: 1, total: 3 }])
    expect(picked(pool)).toEqual(['web-2', 'web-3', 'web-4'])
    eject(pool, 'web-4')
    // Nothing fit anywhere: panic serves the lowest level.
    expect(picked(pool)).toEqual(['web-0', 'web-1'])
  })

  it('a dead less-preferred level never pushes the preferred one into panic', () => {
    // Ejected while preferred, then demoted: a backup site that is down.
    const { pool, panics, source } = setup([1, 1, 0, 0, 0, 0], { panicThreshold: 0.5 })
    for (const name of ['web-2', 'web-3', 'web-4', 'web-5']) eject(pool, name)
    source.set(prioritized([0, 0, 1, 1, 1, 1]))
    expect(pool.stats().endpoints.filter((e) => e.state === 'ejected')).toHaveLength(4)
    // 2 fit of 6 listed, but both at the level in use: no panic.
    expect(pool.panic).toBe(false)
    eject(pool, 'web-0')
    // 1 of level 0's 2 is still at the threshold: traffic stays on the fit one.
    expect(panics).toEqual([])
    expect(picked(pool)).toEqual(['web-1'])
  })

  it('counts fit endpoints of later levels toward the threshold: failover, not panic, is next', () => {
    const { pool } = setup([0, 0, 0, 1, 1], { panicThreshold: 0.5 })
    eject(pool, 'web-0')
    eject(pool, 'web-1')
    // Level 0 has 1 fit of 3, and 2 more fit wait at level 1: no panic, web-2 serves alone.
    expect(pool.panic).toBe(false)
    expect(picked(pool)).toEqual(['web-2'])
  })

  it('chooses the level per role: replicas fail over on their own; the primary is taken at any level', () => {
    // web-0 is the primary (ordinal 0) at level 1; replicas web-1 (level 0), web-2 and web-3 (level 1).
    const { pool } = setup([1, 0, 1, 1], { primary: { ordinal: 0 } })
    expect(pool.pick({ role: 'primary' }).name).toBe('web-0')
    expect(picked(pool, 24, { role: 'replica' })).toEqual(['web-1'])
    // role any: level 0 holds only web-1.
    expect(picked(pool)).toEqual(['web-1'])
    expect(pool.pick({ readPreference: 'nearest' }).name).toBe('web-1')
    eject(pool, 'web-1')
    expect(picked(pool, 24, { role: 'replica' })).toEqual(['web-2', 'web-3'])
    expect(picked(pool)).toEqual(['web-0', 'web-2', 'web-3'])
    expect(pool.pick({ readPreference: 'nearest' }).priority).toBe(1)
  })

  it('hashes keys onto the preferred level only, and back onto the same endpoints after a failover', () => {
    const { pool, clock } = setup([0, 0, 1, 1], { balancer: 'consistent-hash' })
    const keys = Array.from({ length: 200 }, (_, i) => `user-${i}`)
    const before = keys.map((key) => pool.pick({ key }).name)
    expect([...new Set(before)].sort()).toEqual(['web-0', 'web-1'])
    eject(pool, 'web-0')
    eject(pool, 'web-1')
    expect([...new Set(keys.map((key) => pool.pick({ key }).name))].sort()).toEqual(['web-2', 'web-3'])
    clock.advance(1_000)
    expect(keys.map((key) => pool.pick({ key }).name)).toEqual(before)
  })

  it('follows a priority change of a known endpoint (an updated SRV record)', () => {
    const { pool, source } = setup([0, 1])
    expect(picked(pool)).toEqual(['web-0'])
    source.set(prioritized([1, 0]))
    expect(picked(pool)).toEqual(['web-1'])
  })
})
