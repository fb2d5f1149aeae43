import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Lab, startLab } from '../../lab/index.js'
import { until } from '../support/until.js'
import { CLI, cli } from './discovery-support.js'

let lab: Lab

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` before the CLI tests`)
  lab = await startLab({ ttl: 1 })
})

afterAll(async () => {
  await lab?.close()
})

/** The row of `pod` in a table: its cells. */
function row(table: string, pod: string): string[] {
  const line = table.split('\n').find((l) => l.trim().split(/\s+/).includes(pod))
  if (line === undefined) throw new Error(`no row for ${pod} in:\n${table}`)
  return line.trim().split(/\s+/)
}

describe('headless-lb check', () => {
  it('shows a slow pod as slow and a failing pod as failing, and exits 1 (text and --json)', async () => {
    const svc = await lab.addService({ name: 'api', kind: 'headless', replicas: 3 })
    svc.pod('api-1').fault({ kind: 'slow', latencyMs: 300 })
    svc.pod('api-2').fault({ kind: 'errors', ratio: 1, status: 503 })
    const text = await cli(['check', svc.fqdn, '--requests', '3', '--dns-server', lab.dnsServer])
    console.log(text.stdout)
    expect(text.code).toBe(1)
    expect(text.stdout).toMatch(/^api\.default\.svc\.cluster\.local: 3 pod\(s\), 3 x GET \/healthz each\n/)
    expect(row(text.stdout, 'api-0').slice(0, 4)).toEqual([
      'api-0',
      `${svc.pod('api-0').ip}:8080`,
      'ok',
      '200',
    ])
    expect(row(text.stdout, 'api-1').slice(2, 4)).toEqual(['slow', '200'])
    expect(row(text.stdout, 'api-2').slice(2, 4)).toEqual(['failing', '503'])
    expect(row(text.stdout, 'api-2').slice(6)).toEqual(['3/3', 'status', '503'])

    const json = await cli(['check', svc.fqdn, '--requests', '2', '--json', '--dns-server', lab.dnsServer])
    expect(json.code).toBe(1)
    const parsed = JSON.parse(json.stdout)
    expect(parsed).toMatchObject({ type: 'check', service: svc.fqdn, stale: false })
    const byName = Object.fromEntries(
      parsed.endpoints.map((e: { name: string; status: string }) => [e.name, e]),
    )
    expect(byName['api-0']).toMatchObject({ status: 'ok', httpStatus: 200, requests: 2, errors: 0 })
    expect(byName['api-1'].status).toBe('slow')
    expect(byName['api-1'].p50).toBeGreaterThanOrEqual(300)
    expect(byName['api-2']).toMatchObject({ status: 'failing', httpStatus: 503, errors: 2 })
  })

  it('exits 0 when every pod is fine; a killed pod is down over TCP', async () => {
    const svc = await lab.addService({ name: 'cache', kind: 'headless', replicas: 2 })
    const ok = await cli(['check', svc.fqdn, '--requests', '2', '--dns-server', lab.dnsServer])
    expect(ok.code).toBe(0)
    await svc.pod('cache-1').kill()
    const tcp = await cli(['check', svc.fqdn, '--tcp', '--requests', '2', '--dns-server', lab.dnsServer])
    expect(tcp.code).toBe(1)
    expect(tcp.stdout).toContain('TCP connect')
    expect(row(tcp.stdout, 'cache-0')[2]).toBe('ok')
    expect(row(tcp.stdout, 'cache-1').slice(2)).toEqual(['down', '-', '-', '-', '2/2', 'ECONNREFUSED'])
  })

  it('--watch refreshes the table and marks the pod whose status changed', async () => {
    const svc = await lab.addService({ name: 'feed', kind: 'headless', replicas: 2 })
    svc.pod('feed-1').fault({ kind: 'errors', ratio: 1, status: 500 })
    const child = spawn(process.execPath, [
      CLI,
      'check',
      svc.fqdn,
      '--watch',
      '--interval',
      '200',
      '--requests',
      '2',
      '--dns-server',
      lab.dnsServer,
    ])
    let out = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk
    })
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
    try {
      await until('a first table with feed-1 failing', () => /feed-1 .* failing/.test(out), 10_000)
      svc.pod('feed-1').fault({ kind: 'none' })
      await until('a table marking feed-1 as changed, now ok', () => /\* +feed-1 +\S+ +ok /.test(out), 10_000)
    } catch (error) {
      throw new Error(`${(error as Error).message}; output:\n${out}`)
    } finally {
      child.kill('SIGINT')
    }
    expect(await exited).toBe(0)
    console.log(out.split('\n\n').slice(-2).join('\n\n'))
  })
})
