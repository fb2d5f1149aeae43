import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Lab, type LabService, startLab } from '../../lab/index.js'
import type { Endpoint } from '../../src/endpoint.js'
import type { HealthEvent, Pool, PoolOptions } from '../../src/pool.js'
import { createPool } from '../../src/pool.js'
import { nextPoolEvent, picks } from './pool-support.js'

let lab: Lab
let svc: LabService
const pools: Pool[] = []

beforeAll(async () => {
  lab = await startLab({ ttl: 1 })
  svc = await lab.addService({ name: 'cache', kind: 'headless', replicas: 3 })
})

afterAll(async () => {
  for (const pool of pools) await pool.close()
  await lab?.close()
})

function pool(healthCheck: NonNullable<PoolOptions['healthCheck']>): Pool {
  const created = createPool({
    service: svc.fqdn,
    portName: 'http',
    dns: { servers: [lab.dnsServer], search: [], ndots: 1 },
    healthCheck,
    panicThreshold: 0,
  })
  pools.push(created)
  return created
}

const becomes = (p: Pool, name: string, state: HealthEvent['state']) =>
  nextPoolEvent<HealthEvent>(p, 'health', (e) => e.endpoint.name === name && e.state === state)

describe('active TCP health checks', () => {
  it('a killed pod fails its TCP check; a hanging one still accepts connections and passes', async () => {
    const p = pool({ tcp: true, interval: 150, timeout: 300, unhealthyThreshold: 1 })
    await p.ready()
    const cache1 = svc.pod('cache-1')
    const cache2 = svc.pod('cache-2')
    const out = becomes(p, 'cache-1', 'unhealthy')
    cache2.fault({ kind: 'hang' }) // TCP sees nothing wrong: that is what HTTP checks are for
    await cache1.kill()
    await out
    expect(picks(p, 20)).not.toContain('cache-1')
    expect(picks(p, 20)).toContain('cache-2')
    const back = becomes(p, 'cache-1', 'healthy')
    await cache1.restart()
    cache2.fault({ kind: 'none' })
    await back
  })

  it('a black-holed pod (packets dropped) fails at the check timeout', async (context) => {
    if (!lab.blackholeSupport.supported) context.skip(lab.blackholeSupport.reason)
    const p = pool({ tcp: true, interval: 150, timeout: 300, unhealthyThreshold: 1 })
    await p.ready()
    const cache0 = svc.pod('cache-0')
    const out = becomes(p, 'cache-0', 'unhealthy')
    await cache0.blackhole(true)
    try {
      await out
      expect(picks(p, 20)).not.toContain('cache-0')
    } finally {
      await cache0.blackhole(false)
    }
    await becomes(p, 'cache-0', 'healthy')
  })
})

describe('custom health checks', () => {
  it('run the caller’s function with the endpoint and an abort signal that fires at the timeout', async () => {
    const seen = new Set<string>()
    let aborted = 0
    const check = (endpoint: Endpoint, signal: AbortSignal): Promise<boolean> => {
      seen.add(endpoint.name!)
      if (endpoint.name !== 'cache-2') return Promise.resolve(true)
      // A check that never answers: the pool's timeout aborts it and counts a failure.
      return new Promise((_, reject) =>
        signal.addEventListener('abort', () => {
          aborted++
          reject(signal.reason)
        }),
      )
    }
    const p = pool({ check, interval: 100, timeout: 150, unhealthyThreshold: 2 })
    const out = becomes(p, 'cache-2', 'unhealthy')
    await p.ready()
    await out
    expect(seen).toEqual(new Set(['cache-0', 'cache-1', 'cache-2']))
    expect(aborted).toBeGreaterThanOrEqual(2)
    expect(picks(p, 20)).not.toContain('cache-2')
  })
})
