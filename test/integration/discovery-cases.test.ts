import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Lab, startLab } from '../../lab/index.js'
import { createEndpointSource } from '../../src/discovery/create-endpoint-source.js'
import type { DiscoveryOptions } from '../../src/discovery/discovery-options.js'
import type { EndpointSource } from '../../src/discovery/endpoint-source.js'
import { ResolutionError } from '../../src/errors.js'
import { POD_SEARCH } from './discovery-support.js'

let lab: Lab
const sources: EndpointSource[] = []

beforeAll(async () => {
  lab = await startLab()
})

afterAll(async () => {
  for (const source of sources) await source.close()
  await lab?.close()
})

function source(options: Omit<DiscoveryOptions, 'dns'> & { dns?: DiscoveryOptions['dns'] }): EndpointSource {
  const created = createEndpointSource({
    ...options,
    dns: { servers: [lab.dnsServer], search: [], ndots: 1, ...options.dns },
  })
  sources.push(created)
  return created
}

describe('the four cases, resolved against the lab DNS server', () => {
  it('a headless service over a StatefulSet gives pod names, ordinals, SRV priority and weight', async () => {
    const svc = await lab.addService({ name: 'web', kind: 'headless', replicas: 3 })
    const web = source({ service: svc.fqdn, portName: 'http' })
    await web.ready()
    expect(web.endpoints.map((e) => [e.id, e.name, e.ordinal, e.address, e.port])).toEqual(
      svc.pods.map((p, i) => [p.hostname, `web-${i}`, i, p.ip, p.port]),
    )
    expect(web.endpoints[0]).toMatchObject({
      hostname: svc.pods[0]!.hostname,
      priority: 0,
      weight: 33,
      family: 4,
    })
    expect(web.stale).toBe(false)
  })

  it('a headless service over a Deployment gives every pod IP, known by address', async () => {
    const svc = await lab.addService({ name: 'shop', kind: 'headless', workload: 'deployment', replicas: 3 })
    const byA = source({ service: svc.fqdn, port: svc.port })
    const bySrv = source({ service: svc.fqdn, portName: 'http' })
    await Promise.all([byA.ready(), bySrv.ready()])
    const expected = svc.pods.map((p) => `${p.ip}:${p.port}`).sort()
    expect(byA.endpoints.map((e) => e.id).sort()).toEqual(expected)
    // SRV targets are dashed-IP names: not pod names, so no name/hostname and the same ids.
    expect(bySrv.endpoints.map((e) => e.id).sort()).toEqual(expected)
    expect(bySrv.endpoints.every((e) => e.name === undefined && e.hostname === undefined)).toBe(true)
  })

  it('a ClusterIP service gives one endpoint: the VIP', async () => {
    const svc = await lab.addService({ name: 'api', kind: 'clusterIP', replicas: 3 })
    const api = source({ service: svc.fqdn, portName: 'http' })
    await api.ready()
    expect(api.endpoints).toEqual([
      {
        id: `${svc.clusterIP}:${svc.port}`,
        address: svc.clusterIP,
        family: 4,
        port: svc.port,
        priority: 0,
        weight: 100,
      },
    ])
  })

  it('a service with no ready pods, or a misspelt one, is not ready: ready() says so; ready({ allowEmpty }) is', async () => {
    const svc = await lab.addService({ name: 'zero', kind: 'headless', replicas: 0 })
    const zero = source({ service: svc.fqdn, portName: 'http' })
    await zero.ready({ allowEmpty: true })
    expect(zero.endpoints).toEqual([])
    for (const [s, name] of [
      [zero, svc.fqdn],
      [source({ service: `zreo.${svc.fqdn.split('.').slice(1).join('.')}`, port: 8080 }), 'zreo'],
    ] as const) {
      const error = (await s.ready({ timeout: 1_000 }).catch((e: unknown) => e)) as ResolutionError
      expect(error).toBeInstanceOf(ResolutionError)
      expect(error.message).toContain(name)
      expect(error.message).toContain('no ready pods, or no such service')
      expect(error.dnsCode).toBe('ENOTFOUND')
    }
  })

  it('known pod names resolve to named endpoints; missing pods are left out', async () => {
    const svc = await lab.addService({ name: 'db', kind: 'headless', replicas: 2 })
    const db = source({ service: svc.fqdn, port: svc.port, pods: ['db-0', 'db-1', 'db-2'] })
    await db.ready()
    expect(db.endpoints.map((e) => [e.id, e.name, e.ordinal, e.address])).toEqual(
      svc.pods.map((p, i) => [p.hostname, `db-${i}`, i, p.ip]),
    )
  })

  it('short names go through the search list as in a pod (web, web.default, pods by short service name)', async () => {
    const svc = await lab.addService({ name: 'cart', namespace: 'shop', kind: 'headless', replicas: 2 })
    const search = ['shop.svc.cluster.local', ...POD_SEARCH.slice(1)]
    const short = source({ service: 'cart', portName: 'http', dns: { search, ndots: 5 } })
    const withNs = source({ service: 'cart.shop', portName: 'http', dns: { search: POD_SEARCH, ndots: 5 } })
    const pods = source({ service: 'cart', port: svc.port, pods: ['cart-1'], dns: { search, ndots: 5 } })
    await Promise.all([short.ready(), withNs.ready(), pods.ready()])
    expect(short.endpoints.map((e) => e.id)).toEqual(svc.pods.map((p) => p.hostname))
    expect(withNs.endpoints.map((e) => e.id)).toEqual(svc.pods.map((p) => p.hostname))
    expect(pods.endpoints.map((e) => e.id)).toEqual([svc.pod('cart-1').hostname])
  })
})
