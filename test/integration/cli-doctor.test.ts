import { existsSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Lab, startLab } from '../../lab/index.js'
import { CLI, cli } from './discovery-support.js'

let lab: Lab

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` before the CLI tests`)
  lab = await startLab()
  await lab.addService({ name: 'api', kind: 'clusterIP', replicas: 3 })
  await lab.addService({ name: 'shop', kind: 'headless', workload: 'deployment', replicas: 3 })
  await lab.addService({ name: 'web', kind: 'headless', replicas: 3 })
  await lab.addService({ name: 'gone', kind: 'headless', replicas: 2 })
  for (const pod of lab.service('gone').pods) await pod.setReady(false)
})

afterAll(async () => {
  await lab?.close()
})

async function doctor(service: string, ...more: string[]) {
  const args = ['doctor', service, '--dns-server', lab.dnsServer, ...more]
  const result = await cli(args)
  // The real output, for docs/discovery.md.
  console.log(`$ headless-lb ${args.join(' ')}\n${result.stdout}${result.stderr}(exit ${result.code})`)
  return result
}

describe('headless-lb doctor names the case', () => {
  it('ClusterIP: one VIP, SRV targets the service itself; advises clusterIP: None (exit 1)', async () => {
    const svc = lab.service('api')
    const { code, stdout } = await doctor(svc.fqdn)
    expect(code).toBe(1)
    expect(stdout).toContain('Case:    ClusterIP service')
    expect(stdout).toContain('clusterIP: None')
    expect(stdout).toContain(svc.clusterIP!)
  })

  it('headless over a Deployment: pod IPs, no stable names (exit 0)', async () => {
    const svc = lab.service('shop')
    const { code, stdout } = await doctor(svc.fqdn)
    expect(code).toBe(0)
    expect(stdout).toContain('Case:    Headless service over a Deployment')
    for (const pod of svc.pods) expect(stdout).toContain(pod.ip)
  })

  it('headless over a StatefulSet: pod IPs with names and ordinals (exit 0)', async () => {
    const svc = lab.service('web')
    const { code, stdout } = await doctor(svc.fqdn)
    expect(code).toBe(0)
    expect(stdout).toContain('Case:    Headless service over a StatefulSet')
    for (const pod of svc.pods)
      expect(stdout).toMatch(new RegExp(`${pod.name}\\s+${pod.ip.replaceAll('.', '\\.')}\\s+8080`))
    expect(stdout).toContain('TTL 5s')
  })

  it('no ready pods: NXDOMAIN (exit 1)', async () => {
    const { code, stdout } = await doctor(lab.service('gone').fqdn)
    expect(code).toBe(1)
    expect(stdout).toContain('Case:    No ready pods')
    expect(stdout).toContain('ENOTFOUND')
  })

  it('an ExternalName service is named as such (exit 1)', async () => {
    await lab.addService({ name: 'ext', kind: 'externalName', externalName: 'db.example.org' })
    const { code, stdout } = await doctor('ext.default.svc.cluster.local')
    expect(code).toBe(1)
    expect(stdout).toContain(
      'Case:    ExternalName service: ext.default.svc.cluster.local is a CNAME to db.example.org',
    )
  })

  it('--json gives the diagnosis as data; short names go through --search/--ndots', async () => {
    const { code, stdout } = await doctor(
      'web',
      '--search',
      'default.svc.cluster.local',
      '--ndots',
      '5',
      '--json',
    )
    expect(code).toBe(0)
    const diagnosis = JSON.parse(stdout)
    expect(diagnosis).toMatchObject({
      case: 'headless-statefulset',
      fqdn: lab.service('web').fqdn,
      exitCode: 0,
    })
    expect(diagnosis.endpoints.map((e: { name: string; ordinal: number }) => [e.name, e.ordinal])).toEqual([
      ['web-0', 0],
      ['web-1', 1],
      ['web-2', 2],
    ])
  })

  it('a DNS outage exits 3; bad usage exits 2', async () => {
    await lab.stopDns()
    try {
      const down = await cli(['doctor', 'web.default.svc.cluster.local', '--dns-server', lab.dnsServer])
      expect(down.code).toBe(3)
      expect(down.stderr).toMatch(/DNS failure: .*(ECONNREFUSED|ETIMEOUT)/)
    } finally {
      await lab.startDns()
    }
    const usage = await cli(['doctor', 'web_1', '--dns-server', lab.dnsServer])
    expect(usage.code).toBe(2)
    expect(usage.stderr).toMatch(/^headless-lb: <service> must be a valid DNS name/)
    expect((await cli(['doctor'])).code).toBe(2)
    expect((await cli(['doctor', 'web', '--bogus'])).code).toBe(2)
    const help = await cli(['--help'])
    expect(help.code).toBe(0)
    expect(help.stdout).toContain('Exit codes:')
  })
})
