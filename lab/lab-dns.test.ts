import { Resolver } from 'node:dns/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { untilPasses } from '../test/support/until.js'
import { type Lab, type LabPod, startLab } from './index.js'

let lab: Lab
let dns: Resolver

beforeAll(async () => {
  lab = await startLab()
  dns = new Resolver({ timeout: 500, tries: 3 })
  dns.setServers([lab.dnsServer])
})

afterAll(async () => {
  await lab?.close()
})

async function dnsError(query: Promise<unknown>): Promise<string | undefined> {
  try {
    await query
    return undefined
  } catch (error) {
    return (error as { code?: string }).code
  }
}

describe('the lab DNS server answers as a cluster DNS would', () => {
  it('Deployment + ClusterIP: the service name gives the VIP; a pod name does not resolve', async () => {
    const svc = await lab.addService({ name: 'api', kind: 'clusterIP', replicas: 3 })
    expect(svc.clusterIP).toMatch(/^127\.0\.11\.\d+$/)
    expect(await dns.resolve4('api.default.svc.cluster.local')).toEqual([svc.clusterIP])
    const pod = svc.pods[0]!
    expect(pod.name).toMatch(/^api-[a-z0-9]{10}-[a-z0-9]{5}$/)
    expect(await dnsError(dns.resolve4(`${pod.name}.api.default.svc.cluster.local`))).toBe('ENOTFOUND')
    expect(await dnsError(dns.resolve4(pod.hostname))).toBe('ENOTFOUND')
    // SRV of a ClusterIP service targets the service name itself.
    const srv = await dns.resolveSrv('_http._tcp.api.default.svc.cluster.local')
    expect(srv).toHaveLength(1)
    expect(srv[0]).toMatchObject({
      name: 'api.default.svc.cluster.local',
      port: svc.port,
      priority: 0,
      weight: 100,
    })
  })

  it('Deployment + headless: the service name gives every pod IP; pod names do not resolve', async () => {
    const svc = await lab.addService({ name: 'shop', kind: 'headless', workload: 'deployment', replicas: 3 })
    const ips = svc.pods.map((p) => p.ip).sort()
    expect(new Set(ips).size).toBe(3)
    expect((await dns.resolve4('shop.default.svc.cluster.local')).sort()).toEqual(ips)
    for (const pod of svc.pods) {
      expect(await dnsError(dns.resolve4(`${pod.name}.shop.default.svc.cluster.local`))).toBe('ENOTFOUND')
      // CoreDNS names endpoints without a hostname by their dashed IP.
      expect(pod.hostname).toBe(`${pod.ip.replaceAll('.', '-')}.shop.default.svc.cluster.local`)
      expect(await dns.resolve4(pod.hostname)).toEqual([pod.ip])
    }
    const srv = await dns.resolveSrv('_http._tcp.shop.default.svc.cluster.local')
    expect(srv.map((s) => s.name).sort()).toEqual(svc.pods.map((p) => p.hostname).sort())
  })

  it('StatefulSet + headless: every pod IP, web-0.web... gives its IP, SRV lists the pod names', async () => {
    const svc = await lab.addService({ name: 'web', namespace: 'prod', kind: 'headless', replicas: 3 })
    expect(svc.pods.map((p) => p.name)).toEqual(['web-0', 'web-1', 'web-2'])
    expect((await dns.resolve4('web.prod.svc.cluster.local')).sort()).toEqual(
      svc.pods.map((p) => p.ip).sort(),
    )
    expect(await dns.resolve4('web-0.web.prod.svc.cluster.local')).toEqual([svc.pod('web-0').ip])
    expect(svc.pod('web-1').hostname).toBe('web-1.web.prod.svc.cluster.local')
    const srv = await dns.resolveSrv('_http._tcp.web.prod.svc.cluster.local')
    expect(srv.map((s) => s.name).sort()).toEqual([
      'web-0.web.prod.svc.cluster.local',
      'web-1.web.prod.svc.cluster.local',
      'web-2.web.prod.svc.cluster.local',
    ])
    // CoreDNS: priority 0, weight floor(100 / targets), the endpoint port.
    for (const s of srv) expect(s).toMatchObject({ priority: 0, weight: 33, port: 8080 })
  })

  it('no ready pods: the service name does not exist (NXDOMAIN, not NODATA)', async () => {
    const svc = await lab.addService({ name: 'empty', kind: 'headless', replicas: 2 })
    for (const pod of svc.pods) await pod.setReady(false)
    expect(await dnsError(dns.resolve4('empty.default.svc.cluster.local'))).toBe('ENOTFOUND')
    expect(await dnsError(dns.resolveSrv('_http._tcp.empty.default.svc.cluster.local'))).toBe('ENOTFOUND')
    expect(await dnsError(dns.resolve4('empty-0.empty.default.svc.cluster.local'))).toBe('ENOTFOUND')
    const none = await lab.addService({ name: 'zero', kind: 'headless', replicas: 0 })
    expect(none.pods).toEqual([])
    expect(await dnsError(dns.resolve4('zero.default.svc.cluster.local'))).toBe('ENOTFOUND')
  })

  it('ExternalName: a CNAME to the external name', async () => {
    await lab.addService({ name: 'ext', kind: 'externalName', externalName: 'db.example.org' })
    expect(await dns.resolveCname('ext.default.svc.cluster.local')).toEqual(['db.example.org'])
  })

  it('answers over TCP as well as UDP', async () => {
    const { execFile } = await import('node:child_process')
    const [host, port] = lab.dnsServer.split(':') as [string, string]
    const out = await new Promise<string>((resolve, reject) =>
      execFile(
        'dig',
        ['+tcp', '+short', '-p', port, `@${host}`, 'web.prod.svc.cluster.local', 'A'],
        (e, stdout) => (e ? reject(e) : resolve(stdout)),
      ),
    )
    expect(out.trim().split('\n').sort()).toEqual(
      lab
        .service('web', 'prod')
        .pods.map((p) => p.ip)
        .sort(),
    )
  })
})

describe('live changes show up in answers within 2 s', () => {
  it('scale up and down, unready and ready, restart with a new IP, TTL change', async () => {
    const svc = await lab.addService({ name: 'live', kind: 'headless', replicas: 2 })
    const name = 'live.default.svc.cluster.local'
    const ips = async (): Promise<string[]> => (await dns.resolve4(name)).sort()
    const current = (): string[] =>
      svc.pods
        .filter((p) => p.ready)
        .map((p) => p.ip)
        .sort()

    await svc.scale(4)
    expect(svc.pods.map((p) => p.name)).toEqual(['live-0', 'live-1', 'live-2', 'live-3'])
    await untilPasses(async () => expect(await ips()).toEqual(current()))
    expect(current()).toHaveLength(4)

    await svc.scale(1)
    expect(svc.pods.map((p) => p.name)).toEqual(['live-0'])
    await untilPasses(async () => expect(await ips()).toEqual(current()))
    expect(await dnsError(dns.resolve4('live-3.live.default.svc.cluster.local'))).toBe('ENOTFOUND')

    await svc.scale(2)
    await svc.pod('live-1').setReady(false)
    await untilPasses(async () => expect(await ips()).toEqual([svc.pod('live-0').ip]))
    await svc.pod('live-1').setReady(true)
    await untilPasses(async () => expect(await ips()).toEqual(current()))

    const pod = svc.pod('live-0')
    const oldIp = pod.ip
    await pod.restart({ newIp: true })
    expect(pod.ip).not.toBe(oldIp)
    await untilPasses(async () =>
      expect(await dns.resolve4('live-0.live.default.svc.cluster.local')).toEqual([pod.ip]),
    )
    await untilPasses(async () => expect(await ips()).toEqual(current()))

    await lab.setTtl(30)
    await untilPasses(async () => {
      const answers = await dns.resolve4(name, { ttl: true })
      expect(answers.every((a) => a.ttl === 30)).toBe(true)
    })
    await lab.setTtl(5)
  })

  it('concurrent changes all land, in order, and each resolves once served', async () => {
    const svc = await lab.addService({ name: 'busy', kind: 'headless', replicas: 4 })
    const [a, b, c] = svc.pods as [LabPod, LabPod, LabPod, LabPod]
    await Promise.all([a.setReady(false), b.setReady(false), c.restart({ newIp: true }), svc.scale(5)])
    expect((await dns.resolve4('busy.default.svc.cluster.local')).sort()).toEqual(
      svc.pods
        .filter((p) => p.ready)
        .map((p) => p.ip)
        .sort(),
    )
    expect(await dns.resolve4('busy-2.busy.default.svc.cluster.local')).toEqual([c.ip])
    expect(await dns.resolveSrv('_http._tcp.busy.default.svc.cluster.local')).toHaveLength(3)
  })

  it('rejects invalid service specs with errors naming the option', async () => {
    await expect(lab.addService({ name: 'Bad_Name', kind: 'headless' })).rejects.toThrow(/spec\.name/)
    await expect(lab.addService({ name: 'ok', kind: 'headless', replicas: -1 })).rejects.toThrow(RangeError)
    await expect(lab.addService({ name: 'ext2', kind: 'externalName' })).rejects.toThrow(/spec\.externalName/)
    await expect(lab.addService({ name: 'web', namespace: 'prod', kind: 'headless' })).rejects.toThrow(
      /already exists/,
    )
    await expect(lab.setTtl(-1)).rejects.toThrow(/ttl/)
  })

  it('remove() takes the service out of DNS', async () => {
    const svc = await lab.addService({ name: 'gone', kind: 'headless', replicas: 1 })
    expect(await dns.resolve4('gone.default.svc.cluster.local')).toEqual([svc.pods[0]!.ip])
    await svc.remove()
    await untilPasses(async () =>
      expect(await dnsError(dns.resolve4('gone.default.svc.cluster.local'))).toBe('ENOTFOUND'),
    )
    expect(() => lab.service('gone')).toThrow(RangeError)
  })

  it('stopDns() is an outage and startDns() brings the current records back', async () => {
    const svc = lab.service('web', 'prod')
    await lab.stopDns()
    const outage = await dnsError(dns.resolve4('web.prod.svc.cluster.local'))
    expect(['ECONNREFUSED', 'ETIMEOUT']).toContain(outage)
    // A change during the outage is served once the server is back.
    await svc.scale(2)
    await lab.startDns()
    await untilPasses(async () =>
      expect((await dns.resolve4('web.prod.svc.cluster.local')).sort()).toEqual(
        svc.pods.map((p) => p.ip).sort(),
      ),
    )
    expect(svc.pods).toHaveLength(2)
  })
})
