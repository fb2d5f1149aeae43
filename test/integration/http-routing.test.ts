import { getGlobalDispatcher, setGlobalDispatcher, fetch as undiciFetch } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Lab, startLab } from '../../lab/index.js'
import { NoPrimaryError } from '../../src/errors.js'
import { HeadlessAgent } from '../../src/http/headless-agent.js'
import type { HeadlessClient } from '../../src/http/headless-client.js'
import { until } from '../support/until.js'
import { labClient } from './http-support.js'

let lab: Lab
const closers: Array<{ close(): Promise<void> }> = []

beforeAll(async () => {
  lab = await startLab()
})
afterAll(async () => {
  for (const c of closers) await c.close()
  await lab?.close()
})

describe('primary/replica routing of HTTP requests', () => {
  it('writes go to the primary (db-0), reads to the replicas; route overrides', async () => {
    const svc = await lab.addService({ name: 'db', kind: 'headless', replicas: 3 })
    const client: HeadlessClient = labClient(lab, svc, { primary: { ordinal: 0 } })
    closers.push(client)
    await client.pool.ready()
    for (let i = 0; i < 6; i++) {
      await (await client.request('/rows', { method: 'POST', body: `row ${i}` })).body.dump()
      await (await client.request('/rows')).body.dump()
    }
    const [primary, r1, r2] = svc.pods
    expect(primary!.requests.byMethod).toEqual({ POST: 6 })
    expect((r1!.requests.byMethod.GET ?? 0) + (r2!.requests.byMethod.GET ?? 0)).toBe(6)
    expect(r1!.requests.byMethod.POST ?? 0).toBe(0)

    await (await client.request('/rows', { route: 'primary' })).body.dump()
    expect(primary!.requests.byMethod.GET).toBe(1)
    const res = await client.fetch('/rows', { method: 'PUT', body: 'x', route: 'replica' })
    await res.text()
    expect((r1!.requests.byMethod.PUT ?? 0) + (r2!.requests.byMethod.PUT ?? 0)).toBe(1)
  })

  it('a write with no primary fails fast with NoPrimaryError, never to a replica', async () => {
    const svc = lab.service('db')
    await svc.pod('db-0').setReady(false)
    const client = labClient(lab, svc, { primary: { ordinal: 0 } })
    closers.push(client)
    await client.pool.ready()
    await until('db-0 to be gone', () => !client.pool.endpoints.some((e) => e.name === 'db-0'))
    const before = svc.pods.map((p) => p.requests.total)
    await expect(client.request('/rows', { method: 'DELETE' })).rejects.toBeInstanceOf(NoPrimaryError)
    expect(svc.pods.map((p) => p.requests.total)).toEqual(before)
    await svc.pod('db-0').setReady(true)
  })
})

describe('HeadlessAgent', () => {
  it("balances the listed service through undici's fetch and Node's global fetch, and passes other hosts through", async () => {
    const svc = await lab.addService({ name: 'web', kind: 'headless', replicas: 2 })
    const other = await lab.addService({ name: 'other', kind: 'headless', replicas: 1 })
    const agent = new HeadlessAgent({
      services: {
        // round-robin: four sequential fetches reach each pod twice.
        [svc.fqdn]: {
          portName: 'http',
          balancer: 'round-robin',
          dns: { servers: [lab.dnsServer], search: [], ndots: 1 },
        },
      },
    })
    closers.push(agent)
    const names: string[] = []
    for (let i = 0; i < 4; i++) {
      const res = await undiciFetch(`http://${svc.fqdn}:${svc.port}/x`, { dispatcher: agent })
      names.push(res.headers.get('x-pod') ?? '')
      await res.arrayBuffer()
    }
    expect(names.sort()).toEqual(['web-0', 'web-0', 'web-1', 'web-1'])

    // Not listed: an IP origin goes through the plain Agent.
    const direct = await undiciFetch(`http://${other.pods[0]!.ip}:${other.port}/y`, { dispatcher: agent })
    expect(direct.headers.get('x-pod')).toBe('other-0')
    await direct.arrayBuffer()
    expect(agent.services.map((d) => d.service)).toEqual([svc.fqdn])

    const previous = getGlobalDispatcher()
    setGlobalDispatcher(agent)
    try {
      const res = await fetch(`http://${svc.fqdn}:${svc.port}/z`)
      expect(res.headers.get('x-pod')).toMatch(/^web-/)
      await res.arrayBuffer()
    } finally {
      setGlobalDispatcher(previous)
    }
    expect(agent.services[0]!.stats().requests).toBe(5)
  })
})
