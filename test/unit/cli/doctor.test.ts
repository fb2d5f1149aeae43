import { describe, expect, it } from 'vitest'
import { diagnose } from '../../../src/cli/doctor.js'
import { runCli } from '../../../src/cli/run-cli.js'
import { DnsClient } from '../../../src/discovery/dns-client.js'
import { FakeResolver } from '../../support/fake-resolver.js'

const SVC = 'web.default.svc.cluster.local'
const a = (...addresses: string[]) => ({ a: addresses.map((address) => ({ address, ttl: 5 })) })
const srv = (...targets: string[]) => ({
  srv: targets.map((name) => ({ name, port: 8080, priority: 0, weight: Math.floor(100 / targets.length) })),
})

function zone(fill: (r: FakeResolver) => void): DnsClient {
  const resolver = new FakeResolver()
  fill(resolver)
  return new DnsClient(resolver, ['default.svc.cluster.local', 'svc.cluster.local', 'cluster.local'], 5)
}

const options = { service: SVC, family: 4 as const, portName: 'http', port: undefined }

describe('doctor', () => {
  it('ClusterIP: SRV targets the service name itself', async () => {
    const client = zone((r) => {
      r.set(SVC, a('10.96.0.12'))
      r.set(`_http._tcp.${SVC}`, srv(SVC))
    })
    const d = await diagnose(client, options)
    expect(d).toMatchObject({ case: 'clusterIP', exitCode: 1, fqdn: SVC })
    expect(d.advice).toContain('clusterIP: None')
  })

  it('ClusterIP (probably): one address and no SRV record', async () => {
    const d = await diagnose(
      zone((r) => r.set(SVC, a('10.96.0.12'))),
      options,
    )
    expect(d.case).toBe('clusterIP')
    expect(d.summary).toContain('most likely')
  })

  it('headless over a Deployment: dashed-IP SRV targets', async () => {
    const client = zone((r) => {
      r.set(SVC, a('10.0.0.7', '10.0.0.8'))
      r.set(`_http._tcp.${SVC}`, srv(`10-0-0-7.${SVC}`, `10-0-0-8.${SVC}`))
      r.set(`10-0-0-7.${SVC}`, a('10.0.0.7'))
      r.set(`10-0-0-8.${SVC}`, a('10.0.0.8'))
    })
    const d = await diagnose(client, options)
    expect(d).toMatchObject({ case: 'headless-deployment', exitCode: 0 })
    expect(d.endpoints.every((e) => e.name === undefined)).toBe(true)
  })

  it('headless over a StatefulSet: pod names and ordinals, found from a short name', async () => {
    const client = zone((r) => {
      r.set(SVC, a('10.0.0.8', '10.0.0.7'))
      r.set(`_http._tcp.${SVC}`, srv(`web-1.${SVC}`, `web-0.${SVC}`))
      r.set(`web-0.${SVC}`, a('10.0.0.7'))
      r.set(`web-1.${SVC}`, a('10.0.0.8'))
    })
    const d = await diagnose(client, { ...options, service: 'web' })
    expect(d).toMatchObject({ case: 'headless-statefulset', exitCode: 0, fqdn: SVC })
    expect(d.endpoints.map((e) => [e.name, e.ordinal, e.address, e.ttl])).toEqual([
      ['web-0', 0, '10.0.0.7', 5],
      ['web-1', 1, '10.0.0.8', 5],
    ])
  })

  it('no ready pods: NXDOMAIN everywhere', async () => {
    const d = await diagnose(
      zone(() => {}),
      options,
    )
    expect(d).toMatchObject({ case: 'no-ready-pods', exitCode: 1, fqdn: undefined })
  })

  it('throws on a DNS failure (the CLI exits 3)', async () => {
    const client = zone((r) => {
      r.failWith = 'ESERVFAIL'
    })
    await expect(diagnose(client, options)).rejects.toMatchObject({ code: 'ESERVFAIL' })
  })
})

describe('runCli', () => {
  function io() {
    let stdout = ''
    let stderr = ''
    return {
      io: {
        stdout: { write: (t: string) => (stdout += t) },
        stderr: { write: (t: string) => (stderr += t) },
      },
      out: () => stdout,
      err: () => stderr,
    }
  }

  it.each([
    [[]],
    [['frobnicate', 'web']],
    [['doctor']],
    [['doctor', 'web', 'extra']],
    [['doctor', 'web', '--bogus']],
    [['doctor', 'web', '--port', 'x']],
    [['doctor', 'web', '--port', '70000']],
    [['doctor', 'web', '--family', '5']],
    [['doctor', 'web', '--watch']],
    [['doctor', 'web', '--timeout', '5000']],
    [['resolve', 'web']],
    [['resolve', 'web', '--port', '80', '--port-name', 'http']],
    [['resolve', 'web..x', '--port', '80']],
  ])('exits 2 on bad usage: %j', async (argv) => {
    const t = io()
    expect(await runCli(argv, t.io)).toBe(2)
    expect(t.err()).toMatch(/^headless-lb: .*\n\nUsage:/)
  })

  it('prints help and exits 0', async () => {
    const t = io()
    expect(await runCli(['--help'], t.io)).toBe(0)
    expect(t.out()).toContain('Exit codes:')
  })

  it.each([[['resolve', SVC, '--port', '80', '--timeout', '60000']], [['doctor', SVC]]])(
    'Ctrl-C while DNS has not answered ends at once with exit 130: %j',
    async (argv) => {
      const resolver = new FakeResolver()
      resolver.hang = true
      const controller = new AbortController()
      const t = io()
      const code = runCli(argv, {
        ...t.io,
        signal: controller.signal,
        internals: { createResolver: () => resolver, resolvConf: { nameservers: [], search: [], ndots: 1 } },
      })
      const deadline = Date.now() + 5_000
      while (resolver.queries.length === 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 5))
      controller.abort()
      const result = await Promise.race([code, new Promise((r) => setTimeout(r, 3_000, 'still running'))])
      expect(result).toBe(130)
      expect(t.err()).toMatch(/interrupted/)
      expect(resolver.cancelled).toBeGreaterThan(0)
    },
  )

  it('doctor exits 3 on a DNS failure, through an injected resolver', async () => {
    const resolver = new FakeResolver()
    resolver.failWith = 'ETIMEOUT'
    const t = io()
    const code = await runCli(['doctor', SVC], {
      ...t.io,
      internals: { createResolver: () => resolver, resolvConf: { nameservers: [], search: [], ndots: 1 } },
    })
    expect(code).toBe(3)
    expect(t.err()).toContain('ETIMEOUT')
    expect(resolver.cancelled).toBe(1)
  })
})
