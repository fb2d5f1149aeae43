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

/** `headless-lb resolve <service> --port-name http --watch [...extra]` against the lab, collecting its output. */
function watchResolve(service: string, extra: string[] = []) {
  const child = spawn(process.execPath, [
    CLI,
    'resolve',
    service,
    '--port-name',
    'http',
    '--watch',
    ...extra,
    '--dns-server',
    lab.dnsServer,
  ])
  const output = { out: '', err: '' }
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    output.out += chunk
  })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    output.err += chunk
  })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return { child, output, exited }
}

describe('headless-lb resolve', () => {
  it('prints the endpoint set (text and --json)', async () => {
    const svc = await lab.addService({ name: 'web', kind: 'headless', replicas: 2 })
    const text = await cli(['resolve', svc.fqdn, '--port-name', 'http', '--dns-server', lab.dnsServer])
    console.log(text.stdout)
    expect(text.code).toBe(0)
    expect(text.stdout).toContain(`${svc.fqdn}: 2 endpoint(s)`)
    expect(text.stdout).toContain(
      `web-0 (${svc.pod('web-0').ip}:8080)  hostname=${svc.pod('web-0').hostname}`,
    )

    const json = await cli(['resolve', svc.fqdn, '--port', '8080', '--dns-server', lab.dnsServer, '--json'])
    expect(json.code).toBe(0)
    const parsed = JSON.parse(json.stdout)
    expect(parsed).toMatchObject({ type: 'snapshot', service: svc.fqdn, stale: false })
    expect(parsed.endpoints.map((e: { address: string }) => e.address).sort()).toEqual(
      svc.pods.map((p) => p.ip).sort(),
    )
  })

  it('exits 1 when the service has no ready pods, 3 when DNS is down, 2 without a port', async () => {
    const empty = await cli([
      'resolve',
      'nothing.default.svc.cluster.local',
      '--port',
      '80',
      '--dns-server',
      lab.dnsServer,
    ])
    expect(empty.code).toBe(1)
    expect(empty.stdout).toContain('0 endpoint(s)')
    expect((await cli(['resolve', 'web', '--dns-server', lab.dnsServer])).code).toBe(2)
    await lab.stopDns()
    try {
      const down = await cli([
        'resolve',
        'web.default.svc.cluster.local',
        '--port',
        '80',
        '--dns-server',
        lab.dnsServer,
        '--timeout',
        '1500',
      ])
      expect(down, JSON.stringify(down)).toMatchObject({ code: 3 })
      expect(down.stderr).toMatch(/DNS failure: .*web\.default\.svc\.cluster\.local/)
    } finally {
      await lab.startDns()
    }
  })

  it('Ctrl-C while DNS is down ends resolve at once with exit 130, not after its timeout', async () => {
    await lab.stopDns()
    const child = spawn(
      process.execPath,
      [
        CLI,
        'resolve',
        'web.default.svc.cluster.local',
        '--port',
        '80',
        '--dns-server',
        lab.dnsServer,
        '--timeout',
        '60000',
      ],
      { env: { ...process.env, NODE_DEBUG: 'headless-lb' } },
    )
    let err = ''
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
    try {
      // The first failed query is logged (NODE_DEBUG): the command is running and waiting for DNS.
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no DNS failure logged in:\n${err}`)), 15_000)
        child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
          err += chunk
          if (/failed/.test(err)) {
            clearTimeout(timer)
            resolve()
          }
        })
      })
      child.kill('SIGINT')
      const code = await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000, 'still running'))])
      expect(code, err).toBe(130)
      expect(err).toContain('headless-lb: interrupted')
    } finally {
      child.kill('SIGKILL')
      await lab.startDns()
    }
  })

  it('--watch ends quietly when its reader goes away (resolve --watch | head -1)', async () => {
    const svc = await lab.addService({ name: 'piped', kind: 'headless', replicas: 1 })
    const { child, output, exited } = watchResolve(svc.fqdn)
    try {
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()))
      child.stdout.destroy() // the reader is gone: the next line written gets EPIPE
      await svc.scale(2)
      const code = await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000, 'still running'))])
      expect(output.err).not.toMatch(/Unhandled|EPIPE/)
      expect(code).toBe(0)
    } finally {
      child.kill('SIGKILL')
    }
  })

  it('--watch --json prints one JSON shape per line: the snapshot, then each change', async () => {
    const svc = await lab.addService({ name: 'jsonwatch', kind: 'headless', replicas: 1 })
    const { child, output, exited } = watchResolve(svc.fqdn, ['--json'])
    const lines = () => output.out.split('\n').filter(Boolean)
    try {
      await until('the snapshot line', () => lines().length >= 1, 15_000)
      await svc.scale(2)
      await until(
        'a change line with 2 endpoints',
        () => lines().some((l) => JSON.parse(l).endpoints?.length === 2),
        15_000,
      )
      child.kill('SIGINT')
      expect(await exited).toBe(0)
      const parsed = lines().map((l) => JSON.parse(l))
      expect(parsed[0]).toMatchObject({ type: 'snapshot', service: svc.fqdn, stale: false })
      expect(parsed[0].endpoints).toHaveLength(1)
      for (const line of parsed.slice(1)) {
        expect(line).toMatchObject({ type: 'change', service: svc.fqdn })
        expect(Object.keys(line).sort()).toEqual(
          ['added', 'at', 'endpoints', 'removed', 'service', 'stale', 'type', 'updated'].sort(),
        )
      }
      expect(parsed.flatMap((l) => l.added ?? []).map((e: { name: string }) => e.name)).toContain(
        'jsonwatch-1',
      )
    } finally {
      child.kill('SIGKILL')
    }
  })

  it('--watch prints each change as it happens, and exits 0 on SIGINT', async () => {
    const svc = await lab.addService({ name: 'watched', kind: 'headless', replicas: 1 })
    const { child, output, exited } = watchResolve(svc.fqdn)
    const waitFor = (pattern: RegExp) => until(String(pattern), () => pattern.test(output.out), 15_000)
    try {
      await waitFor(/1 endpoint\(s\)/)
      await svc.scale(2)
      await waitFor(/ \+ watched-1 \(/)
      await svc.pod('watched-0').restart({ newIp: true })
      const ip = svc.pod('watched-0').ip.replaceAll('.', '\\.')
      await waitFor(new RegExp(` ~ watched-0 \\(.*\\) -> watched-0 \\(${ip}:8080\\)`))
      child.kill('SIGINT')
      expect(await exited).toBe(0)
      console.log(output.out)
    } finally {
      child.kill('SIGKILL')
    }
  })
})
