import { describe, expect, it } from 'vitest'
import type { Endpoint } from '../../../src/endpoint.js'
import type { HealthEvent, PoolOptions } from '../../../src/pool.js'
import { createPool } from '../../../src/pool.js'
import { FakeClock } from '../../support/fake-clock.js'
import { FakeSource, seededRandom, statefulSet } from '../pool/fakes.js'

/** Lets the promise callbacks of finished checks run. */
const settle = () => new Promise((resolve) => setImmediate(resolve))

function setup(
  verdicts: Map<string, boolean | 'hang' | 'throw'>,
  options: Partial<PoolOptions['healthCheck'] & object> = {},
) {
  const source = new FakeSource(statefulSet(3))
  const clock = new FakeClock()
  const calls: string[] = []
  const check = async (endpoint: Endpoint, signal: AbortSignal): Promise<boolean> => {
    calls.push(endpoint.name!)
    const verdict = verdicts.get(endpoint.name!) ?? true
    if (verdict === 'throw') throw new Error('refused')
    if (verdict === 'hang') return new Promise<boolean>(() => {}) // ignores its signal on purpose
    expect(signal.aborted).toBe(false)
    return verdict
  }
  const pool = createPool(
    {
      service: 'web',
      panicThreshold: 0,
      healthCheck: { check, interval: 1_000, timeout: 200, jitter: 0, unhealthyThreshold: 2, ...options },
    },
    { source, clock, random: () => 0.5 },
  )
  const events: HealthEvent[] = []
  pool.on('health', (e) => events.push(e))
  return { pool, clock, calls, events, source }
}

describe('active health checks', () => {
  it('checks every endpoint at once, then every interval', async () => {
    const { calls, clock } = setup(new Map())
    expect(calls.sort()).toEqual(['web-0', 'web-1', 'web-2'])
    await settle()
    clock.advance(1_000)
    expect(calls).toHaveLength(6)
  })

  it('marks an endpoint unhealthy after unhealthyThreshold failures, healthy after a pass', async () => {
    const verdicts = new Map<string, boolean | 'hang' | 'throw'>([['web-1', false]])
    const { pool, clock, events } = setup(verdicts)
    await settle()
    expect(pool.stats().endpoints[1]!.state).toBe('healthy')
    clock.advance(1_000)
    await settle()
    expect(events).toMatchObject([{ state: 'unhealthy', previous: 'healthy', reason: 'check-failed' }])
    for (let i = 0; i < 10; i++) expect(pool.pick().name).not.toBe('web-1')
    verdicts.set('web-1', true)
    clock.advance(1_000)
    await settle()
    expect(events.at(-1)).toMatchObject({ state: 'healthy', previous: 'unhealthy', reason: 'check-passed' })
  })

  it('fails a check that hangs past the timeout, and one that throws', async () => {
    const { pool, clock } = setup(
      new Map<string, boolean | 'hang' | 'throw'>([
        ['web-0', 'hang'],
        ['web-2', 'throw'],
      ]),
      { unhealthyThreshold: 1 },
    )
    clock.advance(200)
    await settle()
    expect(pool.stats().endpoints.map((e) => e.state)).toEqual(['unhealthy', 'healthy', 'unhealthy'])
  })

  it('spreads the first checks over the jitter share of the interval, not all at one instant', async () => {
    const source = new FakeSource(statefulSet(3))
    const clock = new FakeClock()
    const start = clock.now()
    const firstCheckAt = new Map<string, number>()
    const pool = createPool(
      {
        service: 'web',
        healthCheck: {
          check: async (endpoint) => {
            if (!firstCheckAt.has(endpoint.name!)) firstCheckAt.set(endpoint.name!, clock.now() - start)
            return true
          },
          interval: 1_000,
          jitter: 0.2,
        },
      },
      { source, clock, random: seededRandom() },
    )
    expect(firstCheckAt.size).toBe(0)
    clock.advance(200)
    const delays = [...firstCheckAt.values()]
    expect(delays).toHaveLength(3)
    expect(new Set(delays).size).toBe(3)
    for (const delay of delays) expect(delay).toBeGreaterThan(0)
    // Still healthy meanwhile: the default initialState trusts DNS's readiness.
    expect(pool.stats().endpoints.map((e) => e.state)).toEqual(['healthy', 'healthy', 'healthy'])
    await pool.close()
    await settle()
    expect(clock.pending).toBe(0)
  })

  it('with initialState unhealthy, checks at once (whatever the jitter) and sends no traffic before the first pass', async () => {
    const { pool, events, calls } = setup(new Map(), { initialState: 'unhealthy', jitter: 0.5 })
    expect(calls).toHaveLength(3)
    expect(pool.stats().endpoints.map((e) => e.state)).toEqual(['pending', 'pending', 'pending'])
    expect(() => pool.pick()).toThrow(/3 pending/)
    await settle()
    expect(events.filter((e) => e.state === 'healthy')).toHaveLength(3)
    expect(pool.pick()).toBeDefined()
  })

  it('pending endpoints neither trigger panic nor receive traffic in it', async () => {
    const source = new FakeSource(statefulSet(3))
    const clock = new FakeClock()
    const verdicts = new Map<string, boolean>([
      ['web-0', true],
      ['web-1', false],
      ['web-2', false],
    ])
    let release: (() => void) | undefined
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    const pool = createPool(
      {
        service: 'web',
        // round-robin: six picks must reach all three endpoints to show panic routes to all.
        balancer: 'round-robin',
        panicThreshold: 0.5,
        healthCheck: {
          check: async (e) => {
            await gate
            return verdicts.get(e.name!)!
          },
          interval: 1_000,
          initialState: 'unhealthy',
        },
      },
      { source, clock, random: () => 0.5 },
    )
    expect(pool.panic).toBe(false)
    expect(() => pool.pick()).toThrow(/3 pending/)
    release!()
    await settle()
    // Now checked: 1 of 3 fit is below 50%, so panic routes across all three.
    expect(pool.panic).toBe(true)
    expect(new Set(Array.from({ length: 6 }, () => pool.pick().name))).toEqual(
      new Set(['web-0', 'web-1', 'web-2']),
    )
  })

  it('stops checking removed endpoints and everything on close', async () => {
    const { pool, clock, calls, source } = setup(new Map())
    await settle()
    source.set(statefulSet(1))
    clock.advance(1_000)
    await settle()
    expect(calls.filter((c) => c !== 'web-0')).toHaveLength(2)
    await pool.close()
    expect(clock.pending).toBe(0)
  })

  it('validates the options', () => {
    const source = new FakeSource()
    expect(() => createPool({ service: 'web', healthCheck: {} }, { source })).toThrow(
      /exactly one of http, tcp and check/,
    )
    expect(() => createPool({ service: 'web', healthCheck: { tcp: true, interval: 0 } }, { source })).toThrow(
      /healthCheck.interval must be a finite number of milliseconds >= 1, got 0/,
    )
    expect(() =>
      createPool({ service: 'web', healthCheck: { http: { path: 'healthz' } } }, { source }),
    ).toThrow(/healthCheck.http.path must be a path starting with \//)
  })
})
