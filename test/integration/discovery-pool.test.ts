import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Lab, startLab } from '../../lab/index.js'
import type { EndpointChange } from '../../src/endpoint.js'
import { createPool } from '../../src/pool.js'

let lab: Lab

beforeAll(async () => {
  lab = await startLab({ ttl: 1 })
})

afterAll(async () => {
  await lab?.close()
})

describe('createPool over real discovery', () => {
  it('resolves, forwards changes, and takes balancing options alongside discovery options', async () => {
    const svc = await lab.addService({ name: 'web', kind: 'headless', replicas: 2 })
    await using pool = createPool({
      service: svc.fqdn,
      portName: 'http',
      dns: { servers: [lab.dnsServer], search: [], ndots: 1 },
      balancer: 'round-robin',
    })
    await pool.ready()
    expect(pool.endpoints.map((e) => e.name)).toEqual(['web-0', 'web-1'])
    const grown = new Promise<EndpointChange>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no change within 15 s')), 15_000)
      pool.on('change', (change: EndpointChange) => {
        if (change.added.length === 0) return
        clearTimeout(timer)
        resolve(change)
      })
    })
    await svc.scale(3)
    expect((await grown).added.map((e) => e.name)).toEqual(['web-2'])
  })
})
