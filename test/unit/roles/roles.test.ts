import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { NoEndpointsError, NoPrimaryError } from '../../../src/errors.js'
import type { ReadPreference, Role } from '../../../src/lease.js'
import { createPool } from '../../../src/pool.js'
import {
  choosePrimary,
  SELECT_ANY,
  SELECT_NEAREST,
  SELECT_PRIMARY,
  SELECT_PRIMARY_PREFERRED,
  SELECT_REPLICA,
  SELECT_REPLICA_PREFERRED,
  selectionPlan,
  staticRole,
} from '../../../src/roles/roles.js'
import { FakeClock } from '../../support/fake-clock.js'
import { endpoint, FakeSource, seededRandom, statefulSet } from '../pool/fakes.js'

describe('selectionPlan', () => {
  it('maps roles and read preferences to plans', () => {
    expect(selectionPlan(undefined, undefined)).toBe(SELECT_ANY)
    expect(selectionPlan('any', undefined)).toBe(SELECT_ANY)
    expect(selectionPlan('primary', undefined)).toBe(SELECT_PRIMARY)
    expect(selectionPlan('replica', undefined)).toBe(SELECT_REPLICA)
    expect(selectionPlan(undefined, 'primaryPreferred')).toBe(SELECT_PRIMARY_PREFERRED)
    expect(selectionPlan('any', 'replicaPreferred')).toBe(SELECT_REPLICA_PREFERRED)
    expect(selectionPlan(undefined, 'nearest')).toBe(SELECT_NEAREST)
    expect(selectionPlan('primary', 'primary')).toBe(SELECT_PRIMARY)
  })

  it('rejects a role that contradicts the read preference', () => {
    expect(() => selectionPlan('primary', 'primaryPreferred')).toThrow(TypeError)
    expect(() => selectionPlan('replica', 'nearest')).toThrow(/consistent with readPreference "nearest"/)
    expect(() => selectionPlan(undefined, 'secondary' as ReadPreference)).toThrow(TypeError)
  })
})

describe('staticRole', () => {
  it('finds the primary by ordinal or by name; endpoints without one are unknown', () => {
    const [a, b] = statefulSet(2, 'db')
    expect(staticRole(a!, { kind: 'ordinal', ordinal: 0 })).toBe('primary')
    expect(staticRole(b!, { kind: 'ordinal', ordinal: 0 })).toBe('replica')
    expect(staticRole(b!, { kind: 'name', name: 'db-1' })).toBe('primary')
    const { ordinal: _, name: __, ...bare } = a!
    expect(staticRole(bare, { kind: 'ordinal', ordinal: 0 })).toBe('unknown')
    expect(staticRole(a!, { kind: 'none' })).toBe('unknown')
  })
})

describe('choosePrimary', () => {
  it('prefers the endpoint that became primary most recently (a promoted standby)', () => {
    expect(
      choosePrimary([
        { id: 'old', role: 'primary', primarySince: 10 },
        { id: 'new', role: 'primary', primarySince: 20 },
        { id: 'r', role: 'replica', primarySince: 0 },
      ]),
    ).toBe('new')
    expect(choosePrimary([{ id: 'r', role: 'replica', primarySince: 0 }])).toBeUndefined()
  })
})

describe('routing by role (property)', () => {
  const requests: Array<{ role?: Role; readPreference?: ReadPreference }> = [
    { role: 'primary' },
    { role: 'replica' },
    { readPreference: 'primary' },
    { readPreference: 'replica' },
  ]

  it('never returns a replica for a primary-only request, nor the primary for a replica-only one', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 0, max: 9 }),
        fc.array(fc.tuple(fc.nat(), fc.boolean()), { maxLength: 20 }),
        fc.constantFrom('round-robin', 'random', 'least-request', 'peak-ewma', 'consistent-hash' as const),
        fc.integer(),
        (n, primaryOrdinal, failures, balancer, seed) => {
          const source = new FakeSource(statefulSet(n, 'db'))
          const pool = createPool(
            {
              service: 'db',
              balancer,
              primary: { ordinal: primaryOrdinal },
              outlierDetection: { maxEjectionPercent: 100 },
            },
            { source, clock: new FakeClock(), random: seededRandom(seed) },
          )
          for (const [which, refused] of failures) {
            try {
              const lease = pool.acquire({ exclude: pool.endpoints.filter((_, i) => i !== which % n) })
              lease.release({ ok: false, kind: refused ? 'connect-refused' : 'status' })
            } catch (error) {
              expect(error).toBeInstanceOf(NoEndpointsError)
            }
            for (const request of requests) {
              const wantsPrimary = request.role === 'primary' || request.readPreference === 'primary'
              try {
                const picked = pool.pick({ ...request, key: 'k' })
                expect(picked.ordinal === primaryOrdinal).toBe(wantsPrimary)
                const stats = pool.stats().endpoints.find((e) => e.endpoint === picked)!
                if (!pool.panic) expect(['healthy', 'probation']).toContain(stats.state)
              } catch (error) {
                expect(error).toBeInstanceOf(wantsPrimary ? NoPrimaryError : NoEndpointsError)
              }
            }
          }
        },
      ),
      { numRuns: 60 },
    )
  })
})

describe('read preferences', () => {
  function pool(primary = true) {
    const source = new FakeSource(statefulSet(3, 'db'))
    const clock = new FakeClock()
    const p = createPool(
      { service: 'db', panicThreshold: 0, ...(primary ? { primary: { ordinal: 0 } } : {}) },
      { source, clock, random: seededRandom(1) },
    )
    return { pool: p, source, clock }
  }

  it('primaryPreferred falls back to a replica only when the primary is unfit', () => {
    const { pool: p } = pool()
    expect(p.pick({ readPreference: 'primaryPreferred' }).name).toBe('db-0')
    p.acquire({ role: 'primary' }).release({ ok: false, kind: 'connect-refused' })
    expect(p.pick({ readPreference: 'primaryPreferred' }).name).not.toBe('db-0')
    expect(() => p.pick({ role: 'primary' })).toThrow(/the primary db-0 \(127.0.10.1:8080\) is ejected/)
  })

  it('replicaPreferred falls back to the primary only when no replica is fit', () => {
    const { pool: p, source } = pool()
    expect(p.pick({ readPreference: 'replicaPreferred' }).name).not.toBe('db-0')
    source.set(statefulSet(1, 'db'))
    expect(p.pick({ readPreference: 'replicaPreferred' }).name).toBe('db-0')
    expect(() => p.pick({ role: 'replica' })).toThrow(NoEndpointsError)
  })

  it('nearest takes the lowest EWMA latency of either role', () => {
    const { pool: p } = pool()
    const latencies: Record<string, number> = { 'db-0': 30, 'db-1': 5, 'db-2': 50 }
    for (let i = 0; i < 6; i++) {
      const lease = p.acquire()
      lease.release({ ok: true, latency: latencies[lease.endpoint.name!]! })
    }
    expect(p.pick({ readPreference: 'nearest' }).name).toBe('db-1')
  })

  it('without a primary option, role primary fails with NoPrimaryError and replica with NoEndpointsError', () => {
    const { pool: p } = pool(false)
    expect(() => p.pick({ role: 'primary' })).toThrow(/no primary option is configured/)
    expect(() => p.pick({ role: 'replica' })).toThrow(/roles are unknown/)
    expect(p.pick().name).toBeDefined()
  })

  it('an endpoint without an ordinal is neither primary nor replica', () => {
    const source = new FakeSource([endpoint('db', '127.0.10.9')].map(({ ordinal: _, ...e }) => e))
    const p = createPool({ service: 'db', primary: { ordinal: 0 } }, { source })
    expect(() => p.pick({ role: 'replica' })).toThrow(NoEndpointsError)
    expect(() => p.pick({ role: 'primary' })).toThrow(/no endpoint matches ordinal 0/)
  })
})
