import { afterEach, describe, expect, it, vi } from 'vitest'
import type { Endpoint } from '../../../src/endpoint.js'
import { createPool } from '../../../src/pool.js'
import { FakeClock } from '../../support/fake-clock.js'
import { FakeSource, statefulSet } from './fakes.js'

const settle = () => new Promise((resolve) => setImmediate(resolve))

/**
 * A listener's exception is the caller's bug and must surface as an uncaught exception (what an
 * emitter driven by I/O does), but it must not stop the pool's own loops. The pool rethrows it on
 * process.nextTick; this catches `error` there (and only it) so the test can count it.
 */
function catchRethrown(error: Error): { count: () => number } {
  let count = 0
  const nextTick = process.nextTick.bind(process)
  vi.spyOn(process, 'nextTick').mockImplementation(((
    callback: (...a: unknown[]) => void,
    ...args: unknown[]
  ) =>
    nextTick(() => {
      try {
        callback(...args)
      } catch (thrown) {
        if (thrown !== error) throw thrown
        count++
      }
    })) as never)
  return { count: () => count }
}

afterEach(() => {
  vi.restoreAllMocks()
})

describe('a listener that throws', () => {
  it('in a probe round does not stop the prober: a later failover is still followed', async () => {
    const roles = new Map<string, 'primary' | 'replica'>([
      ['db-0', 'primary'],
      ['db-1', 'replica'],
    ])
    const probe = async (endpoint: Endpoint) => roles.get(endpoint.name!)!
    const clock = new FakeClock()
    const pool = createPool(
      { service: 'db', primary: { probe, interval: 5_000, timeout: 1_000 } },
      { source: new FakeSource(statefulSet(2, 'db')), clock, random: () => 0.5 },
    )
    const boom = new Error('listener bug')
    let throwOnce = true
    pool.on('primary', () => {
      if (throwOnce) {
        throwOnce = false
        throw boom
      }
    })
    const rethrown = catchRethrown(boom)
    clock.advance(0)
    await settle()
    expect(rethrown.count()).toBe(1)
    expect(pool.pick({ role: 'primary' }).name).toBe('db-0')

    roles.set('db-0', 'replica')
    roles.set('db-1', 'primary')
    clock.advance(5_000)
    await settle()
    expect(pool.pick({ role: 'primary' }).name).toBe('db-1')
    await pool.close()
  })

  it('on a check result does not stop that endpoint’s checks', async () => {
    const verdicts = new Map<string, boolean>([['web-1', false]])
    const check = async (endpoint: Endpoint) => verdicts.get(endpoint.name!) ?? true
    const clock = new FakeClock()
    const pool = createPool(
      {
        service: 'web',
        panicThreshold: 0,
        healthCheck: { check, interval: 1_000, jitter: 0, unhealthyThreshold: 1 },
      },
      { source: new FakeSource(statefulSet(2)), clock, random: () => 0.5 },
    )
    const boom = new Error('listener bug')
    let throwOnce = true
    pool.on('health', () => {
      if (throwOnce) {
        throwOnce = false
        throw boom
      }
    })
    const rethrown = catchRethrown(boom)
    await settle()
    expect(rethrown.count()).toBe(1)
    expect(pool.stats().endpoints[1]!.state).toBe('unhealthy')
    for (let i = 0; i < 4; i++) expect(pool.pick().name).toBe('web-0')

    verdicts.set('web-1', true)
    clock.advance(1_000)
    await settle()
    expect(pool.stats().endpoints[1]!.state).toBe('healthy')
    await pool.close()
  })

  it('on an ejection reaches the releaser, and the ejection has taken effect', () => {
    const pool = createPool(
      { service: 'web', panicThreshold: 0 },
      { source: new FakeSource(statefulSet(2)), clock: new FakeClock() },
    )
    pool.on('eject', () => {
      throw new Error('listener bug')
    })
    const lease = pool.acquire({ exclude: [pool.endpoints[0]!] })
    expect(() => lease.release({ ok: false, kind: 'connect-refused' })).toThrow('listener bug')
    expect(pool.stats().endpoints[1]!.state).toBe('ejected')
    for (let i = 0; i < 4; i++) expect(pool.pick().name).toBe('web-0')
  })
})
