import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Lab, startLab } from '../../lab/index.js'
import { createEndpointSource } from '../../src/discovery/create-endpoint-source.js'
import type { DiscoveryOptions } from '../../src/discovery/discovery-options.js'
import type { EndpointSource } from '../../src/discovery/endpoint-source.js'

let lab: Lab
const sources: EndpointSource[] = []

beforeAll(async () => {
  lab = await startLab()
})

afterAll(async () => {
  for (const source of sources) await source.close()
  await lab?.close()
})

function source(options: Omit<DiscoveryOptions, 'dns'>): EndpointSource {
  const created = createEndpointSource({
    ...options,
    dns: { servers: [lab.dnsServer], search: [], ndots: 1 },
  })
  sources.push(created)
  return created
}

describe('IPv6 and dual stack', () => {
  it('an IPv6 StatefulSet resolves through AAAA, with pod names and their ports from SRV', async () => {
    const svc = await lab.addService({ name: 'six', kind: 'headless', replicas: 3, ipv6: true })
    const six = source({ service: svc.fqdn, portName: 'http', family: 6 })
    await six.ready()
    expect(six.endpoints.map((e) => [e.name, e.address, e.family, e.port])).toEqual(
      svc.pods.map((p) => [p.name, p.ip, 6, p.port]),
    )
  })

  it('family 4 finds no IPv4 address for IPv6-only pods: an empty set, not an error', async () => {
    const svc = await lab.addService({ name: 'six-only', kind: 'headless', replicas: 2, ipv6: true })
    const four = source({ service: svc.fqdn, portName: 'http', family: 4 })
    await four.ready({ allowEmpty: true })
    expect(four.endpoints).toEqual([])
  })

  it('dual resolves both families: IPv4 and IPv6 services side by side', async () => {
    const v4 = await lab.addService({ name: 'mixed4', kind: 'headless', replicas: 2 })
    const v6 = await lab.addService({ name: 'mixed6', kind: 'headless', replicas: 2, ipv6: true })
    const a = source({ service: v4.fqdn, portName: 'http', family: 'dual' })
    const b = source({ service: v6.fqdn, portName: 'http', family: 'dual' })
    const c = source({ service: v6.fqdn, port: 8080, family: 'dual' })
    await Promise.all([a.ready(), b.ready(), c.ready()])
    expect(a.endpoints.map((e) => e.family)).toEqual([4, 4])
    expect(b.endpoints.map((e) => [e.family, e.port])).toEqual(v6.pods.map((p) => [6, p.port]))
    // All IPv6 pods share ::1, so by address the service is one endpoint.
    expect(c.endpoints.map((e) => e.id)).toEqual(['[::1]:8080'])
  })
})
