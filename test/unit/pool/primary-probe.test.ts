import { describe, expect, it } from 'vitest'
import type { Endpoint } from '../../../src/endpoint.js'
import { NoPrimaryError } from '../../../src/errors.js'
import type { PrimaryEvent } from '../../../src/pool.js'
import { createPool } from '../../../src/pool.js'
import { FakeClock } from '../../support/fake-clock.js'
import { FakeSource, seededRandom, statefulSet } from './fakes.js'

const settle = () => new Promise((resolve) => setImmediate(resolve))

function setup(initial: Record<string, 'primary' | 'replica' | 'down' | 'hang'>) {
  const roles = new Map(Object.entries(initial))
  const source = new FakeSource(statefulSet(Object.keys(initial).length, 'db'))
  const clock = new FakeClock()
  let probes = 0
  const probe = async (endpoint: Endpoint): Promise<'primary' | 'replica'> => {
    probes++
    const role = roles.get(endpoint.name!)
    if (role === 'down') throw new Error('connect ECONNREFUSED')
    if (role === 'hang') return new Promise(() => {})
    return role!
  }
  const pool = createPool(
    { service: 'db', primary: { probe, interval: 5_000, timeout: 500 } },
    { source, clock, random: seededRandom(1) },
  )
  const events: PrimaryEvent[] = []
  pool.on('primary', (e) => events.push(e))
  return { pool, clock, roles, events, probes: () => probes }
}

describe('primary found by probe', () => {
  it('knows no primary before the first round, then routes writes to the prober’s primary', async () => {
    const { pool, clock, events } = setup({ 'db-0': 'replica', 'db-1': 'primary', 'db-2': 'replica' })
    expect(() => pool.pick({ role: 'primary' })).toThrow(NoPrimaryError)
    expect(() => pool.pick({ role: 'replica' })).toThrow(/none of 3 endpoints is known to be a replica/)
    clock.advance(0)
    await settle()
    expect(events).toMatchObject([{ primary: { name: 'db-1' }, previous: undefined }])
    expect(pool.pick({ role: 'primary' }).name).toBe('db-1')
    for (let i = 0; i < 6; i++) expect(pool.pick({ role: 'replica' }).name).not.toBe('db-1')
  })

  it('follows a failover at the next round: a promoted standby wins over an old primary not yet fenced', async () => {
    const { pool, clock, roles } = setup({ 'db-0': 'primary', 'db-1': 'replica' })
    clock.advance(0)
    await settle()
    expect(pool.pick({ role: 'primary' }).name).toBe('db-0')
    roles.set('db-1', 'primary') // pg_ctl promote; db-0 still answers "primary" for now
    clock.advance(5_000)
    await settle()
    expect(pool.pick({ role: 'primary' }).name).toBe('db-1')
    expect(() => pool.pick({ role: 'replica' })).toThrow() // db-0 claims primary: never a replica
  })

  it('an old primary whose probe failed once during the failover does not win back the role', async () => {
    const { pool, clock, roles } = setup({ 'db-0': 'primary', 'db-1': 'replica' })
    clock.advance(0)
    await settle()
    expect(pool.pick({ role: 'primary' }).name).toBe('db-0')
    roles.set('db-1', 'primary') // promoted
    roles.set('db-0', 'hang') // the old primary stalls: its probe times out, role unknown
    clock.advance(5_000)
    clock.advance(500)
    await settle()
    expect(pool.pick({ role: 'primary' }).name).toBe('db-1')
    roles.set('db-0', 'primary') // not fenced yet: it answers "primary" again, as it always has
    clock.advance(5_000)
    await settle()
    // A failed probe is no news about the role: db-0 has been primary since before db-1's promotion.
    expect(pool.pick({ role: 'primary' }).name).toBe('db-1')
    expect(pool.stats().endpoints.map((e) => e.role)).toEqual(['unknown', 'primary'])
  })

  it('probes again right after a failed lease on the primary, not a full interval later', async () => {
    const { pool, clock, roles, probes } = setup({ 'db-0': 'primary', 'db-1': 'replica' })
    clock.advance(0)
    await settle()
    const before = probes()
    roles.set('db-0', 'down')
    roles.set('db-1', 'primary')
    clock.advance(1_000)
    pool.acquire({ role: 'primary' }).release({ ok: false, kind: 'reset' })
    clock.advance(0)
    await settle()
    expect(probes()).toBe(before + 2)
    expect(pool.pick({ role: 'primary' }).name).toBe('db-1')
  })

  it('a probe that hangs past its timeout leaves the role unknown', async () => {
    const { pool, clock } = setup({ 'db-0': 'hang', 'db-1': 'replica' })
    clock.advance(0)
    await settle()
    clock.advance(500)
    await settle()
    expect(pool.stats().endpoints.map((e) => e.role)).toEqual(['unknown', 'replica'])
    expect(() => pool.pick({ role: 'primary' })).toThrow(NoPrimaryError)
  })

  it('ignores results that arrive after close', async () => {
    const { pool, clock, events } = setup({ 'db-0': 'primary' })
    clock.advance(0)
    await pool.close()
    await settle()
    expect(events).toHaveLength(0)
    expect(clock.pending).toBe(0)
  })
})
