import { describe, expect, it } from 'vitest'
import { runCli } from '../../../src/cli/run-cli.js'
import { FakeClock } from '../../support/fake-clock.js'
import { FakeResolver } from '../../support/fake-resolver.js'
import { until } from '../../support/until.js'

const SVC = 'web.default.svc.cluster.local'
const resolvConf = { nameservers: [], search: [], ndots: 1 }

function io() {
  const out = { stdout: '', stderr: '' }
  return {
    out,
    io: {
      stdout: { write: (t: string) => (out.stdout += t) },
      stderr: { write: (t: string) => (out.stderr += t) },
    },
  }
}

describe('headless-lb resolve', () => {
  it('--json --watch prints one shape per line: a snapshot first, then each change', async () => {
    const resolver = new FakeResolver()
    resolver.set(SVC, { a: [{ address: '10.0.0.1', ttl: 5 }] })
    const clock = new FakeClock()
    const controller = new AbortController()
    const t = io()
    const code = runCli(['resolve', SVC, '--port', '8080', '--watch', '--json'], {
      ...t.io,
      signal: controller.signal,
      internals: { createResolver: () => resolver, resolvConf, clock, random: () => 0.5 },
    })
    await until('the snapshot line', () => t.out.stdout.includes('\n'))
    resolver.set(SVC, {
      a: [
        { address: '10.0.0.1', ttl: 5 },
        { address: '10.0.0.2', ttl: 5 },
      ],
    })
    // Past the TTL's refresh (5 s, jittered, clamped to maxRefresh): discovery asks again.
    clock.advance(30_000)
    await until('the change line', () => t.out.stdout.split('\n').length > 2)
    controller.abort()
    expect(await code).toBe(0)

    const lines = t.out.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line))
    expect(lines.map((l) => l.type)).toEqual(['snapshot', 'change'])
    for (const line of lines) {
      expect(line).toMatchObject({ service: SVC, stale: false })
      expect(Number.isNaN(Date.parse(line.at))).toBe(false)
      expect(Array.isArray(line.endpoints)).toBe(true)
    }
    expect(lines[0].endpoints).toHaveLength(1)
    expect(lines[1].endpoints).toHaveLength(2)
    expect(lines[1].added).toMatchObject([{ address: '10.0.0.2', port: 8080 }])
    expect(lines[1]).toMatchObject({ removed: [], updated: [] })
  })

  it('--json without --watch prints the snapshot, typed the same way', async () => {
    const resolver = new FakeResolver()
    resolver.set(SVC, { a: [{ address: '10.0.0.1', ttl: 5 }] })
    const t = io()
    const code = await runCli(['resolve', SVC, '--port', '8080', '--json'], {
      ...t.io,
      internals: { createResolver: () => resolver, resolvConf },
    })
    expect(code).toBe(0)
    expect(JSON.parse(t.out.stdout)).toMatchObject({ type: 'snapshot', service: SVC, stale: false })
  })

  it('exits 70 with the stack for an unexpected error (a bug), not 2 as a usage error', async () => {
    const t = io()
    const bug = new TypeError("Cannot read properties of undefined (reading 'resolve4')")
    const code = await runCli(['resolve', SVC, '--port', '8080'], {
      ...t.io,
      internals: {
        createResolver: () => {
          throw bug
        },
        resolvConf,
      },
    })
    expect(code).toBe(70)
    expect(t.out.stderr).toContain(bug.stack!)
    expect(t.out.stderr).not.toContain('Usage:')
  })

  it('still exits 2 for what the option validators reject', async () => {
    const t = io()
    expect(await runCli(['resolve', SVC, '--port', '70000'], t.io)).toBe(2)
    expect(t.out.stderr).toMatch(
      /^headless-lb: --port must be an integer from 1 to 65535, got 70000\n\nUsage:/,
    )
    const servers = io()
    expect(await runCli(['resolve', SVC, '--port', '80', '--dns-server', 'nameserver'], servers.io)).toBe(2)
    expect(servers.out.stderr).toMatch(/^headless-lb: --dns-server must be an IP address/)
  })
})
