import { afterEach, describe, expect, it } from 'vitest'
import { createPool } from '../../../src/pool.js'
import { FakeClock } from '../../support/fake-clock.js'
import { InMemoryMeter } from '../../support/in-memory-meter.js'
import { until } from '../../support/until.js'
import { FakeSource, seededRandom, statefulSet } from '../pool/fakes.js'

const meters: InMemoryMeter[] = []
afterEach(async () => {
  for (const m of meters.splice(0)) await m.shutdown()
})

describe('pool metrics', () => {
  it('count endpoints by state, ejections by reason, check results; panic and the set age as gauges', async () => {
    const m = new InMemoryMeter()
    meters.push(m)
    const verdicts = new Map<string, boolean>()
    const source = new FakeSource(statefulSet(3))
    const clock = new FakeClock()
    const pool = createPool(
      {
        service: 'web',
        healthCheck: {
          check: async (e) => verdicts.get(e.name!) ?? true,
          interval: 1_000,
          unhealthyThreshold: 1,
        },
        outlierDetection: { consecutiveFailures: 2, baseEjectionTime: 10_000 },
        meterProvider: m.provider,
      },
      { source, clock, random: seededRandom() },
    )
    const service = { 'headless_lb.service': 'web' }
    const web1 = pool.endpoints.find((e) => e.name === 'web-1')!
    for (let i = 0; i < 2; i++) {
      pool
        .acquire({ exclude: pool.endpoints.filter((e) => e !== web1) })
        .release({ ok: false, kind: 'status' })
    }
    verdicts.set('web-2', false)
    clock.advance(1_000)
    await until(
      'web-2 is unhealthy',
      () => pool.stats().endpoints.find((e) => e.endpoint.name === 'web-2')?.state === 'unhealthy',
    )

    const states = Object.fromEntries(
      (await m.points('headless_lb.endpoints', service)).map((p) => [
        p.attributes['headless_lb.endpoint.state'],
        p.value,
      ]),
    )
    expect(states).toEqual({ healthy: 1, probation: 0, unhealthy: 1, ejected: 1, pending: 0 })
    expect(await m.points('headless_lb.ejections')).toMatchObject([
      {
        value: 1,
        attributes: {
          ...service,
          'headless_lb.endpoint': 'web-1',
          'headless_lb.ejection.reason': 'consecutive-failures',
        },
      },
    ])
    expect(
      await m.points('headless_lb.health_checks', { 'headless_lb.health_check.result': 'failed' }),
    ).toMatchObject([{ value: 1, attributes: { 'headless_lb.endpoint': 'web-2' } }])
    // Ejected or not, every endpoint is checked: web-0 and web-1 passed.
    const passed = await m.points('headless_lb.health_checks', {
      'headless_lb.health_check.result': 'passed',
    })
    expect(passed.map((p) => p.attributes['headless_lb.endpoint']).sort()).toEqual(['web-0', 'web-1'])
    // 1 fit of 3: below the 0.5 panic threshold.
    expect(await m.points('headless_lb.panic')).toMatchObject([{ value: 1, attributes: service }])
    // A fake source does not say when it last answered: no age is reported.
    expect(await m.points('headless_lb.discovery.age')).toEqual([])
    await pool.close()
    expect(pool.listenerCount('check')).toBe(0)
  })
})
