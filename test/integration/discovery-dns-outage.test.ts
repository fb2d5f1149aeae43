import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Lab, startLab } from '../../lab/index.js'
import { createEndpointSource } from '../../src/discovery/create-endpoint-source.js'
import { ResolutionError } from '../../src/errors.js'
import { until } from '../support/until.js'
import { nextChange, nextError } from './discovery-support.js'

let lab: Lab

beforeAll(async () => {
  lab = await startLab({ ttl: 1 })
})

afterAll(async () => {
  await lab?.close()
})

describe('a DNS outage', () => {
  it('keeps the last good set (stale), emits error, and recovers when DNS returns', async () => {
    const svc = await lab.addService({ name: 'web', kind: 'headless', replicas: 3 })
    await using web = createEndpointSource({
      service: svc.fqdn,
      portName: 'http',
      dns: { servers: [lab.dnsServer], search: [], ndots: 1 },
      maxRefresh: 2000,
    })
    await web.ready()
    const before = web.endpoints
    expect(before).toHaveLength(3)

    const failed = nextError(web)
    await lab.stopDns()
    const error = (await failed) as ResolutionError
    expect(error).toBeInstanceOf(ResolutionError)
    expect(error.service).toBe(svc.fqdn)
    expect(error.query).toBe(`SRV _http._tcp.${svc.fqdn}`)
    expect(['ECONNREFUSED', 'ETIMEOUT']).toContain(error.dnsCode)
    expect(web.stale).toBe(true)
    expect(web.endpoints).toBe(before)
    // Still failing on later tries (backing off), still the same set.
    await nextError(web)
    expect(web.endpoints).toBe(before)

    // A change made while DNS was down shows once it is back.
    await lab.startDns()
    await until('stale cleared after DNS returned', () => !web.stale)
    expect(web.endpoints).toBe(before)
    const grown = nextChange(web, (c) => c.added.length === 1)
    await svc.scale(4)
    await grown
    expect(web.endpoints).toHaveLength(4)
  })

  it('ready() rejects with the service, the query and the DNS code when DNS is down from the start', async () => {
    const svc = await lab.addService({ name: 'cold', kind: 'headless', replicas: 1 })
    await lab.stopDns()
    try {
      await using cold = createEndpointSource({
        service: svc.fqdn,
        port: svc.port,
        dns: { servers: [lab.dnsServer], search: [], ndots: 1 },
      })
      const error = (await cold.ready({ timeout: 1500 }).catch((e: unknown) => e)) as ResolutionError
      expect(error).toBeInstanceOf(ResolutionError)
      expect(error).toMatchObject({ service: svc.fqdn, query: `A ${svc.fqdn}`, code: 'HLB_ERR_RESOLUTION' })
      expect(['ECONNREFUSED', 'ETIMEOUT']).toContain(error.dnsCode)
      expect(error.message).toContain(svc.fqdn)
    } finally {
      await lab.startDns()
    }
  })
})
