import { Resolver } from 'node:dns/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Lab } from './api.js'
import { startLab } from './index.js'

// podIps: DNS records for servers the lab does not run (the PostgreSQL proof's primary and standby).
describe('a DNS-only service with pinned pod addresses (podIps)', () => {
  let lab: Lab
  let dns: Resolver

  beforeAll(async () => {
    lab = await startLab()
    dns = new Resolver({ timeout: 1_000, tries: 2 })
    dns.setServers([lab.dnsServer])
  })
  afterAll(async () => {
    await lab?.close()
  })

  it('publishes each StatefulSet pod at its pinned address, in pod order', async () => {
    const db = await lab.addService({
      name: 'pinned',
      kind: 'headless',
      port: 5432,
      servePods: false,
      podIps: ['127.0.20.7', '127.0.20.8'],
    })
    expect(db.pods.map((p) => [p.name, p.ip, p.running])).toEqual([
      ['pinned-0', '127.0.20.7', false],
      ['pinned-1', '127.0.20.8', false],
    ])
    expect(await dns.resolve4(`pinned-0.${db.fqdn}`)).toEqual(['127.0.20.7'])
    expect(await dns.resolve4(`pinned-1.${db.fqdn}`)).toEqual(['127.0.20.8'])
    // Scaling keeps the mapping: the highest ordinal goes, and comes back on the same address.
    await db.scale(1)
    expect(await dns.resolve4(db.fqdn)).toEqual(['127.0.20.7'])
    await db.scale(2)
    expect(await dns.resolve4(`pinned-1.${db.fqdn}`)).toEqual(['127.0.20.8'])
    await expect(db.scale(3)).rejects.toThrow(/every address of spec.podIps/)
  })

  it('rejects pinned addresses the lab would have to serve, or that are not loopback', async () => {
    await expect(lab.addService({ name: 'a', kind: 'headless', podIps: ['127.0.20.9'] })).rejects.toThrow(
      /servePods: false/,
    )
    await expect(
      lab.addService({ name: 'b', kind: 'headless', servePods: false, podIps: ['10.0.0.1'] }),
    ).rejects.toThrow(/spec.podIps\[0\] must be an IPv4 loopback address/)
    await expect(
      lab.addService({ name: 'c', kind: 'headless', servePods: false, replicas: 3, podIps: ['127.0.20.9'] }),
    ).rejects.toThrow(/spec.replicas must be at most the number of spec.podIps/)
    await expect(
      lab.addService({ name: 'd', kind: 'headless', servePods: false, podIps: ['127.0.20.9', '127.0.20.9'] }),
    ).rejects.toThrow(/must not repeat/)
  })
})
