import { createSocket } from 'node:dgram'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Lab, startLab } from '../../lab/index.js'
import { createEndpointSource } from '../../src/discovery/create-endpoint-source.js'
import { ClosedError } from '../../src/errors.js'
import { trackingClock } from '../support/tracking-clock.js'
import { observedResolver } from './discovery-support.js'

let lab: Lab

beforeAll(async () => {
  lab = await startLab({ ttl: 1 })
})

afterAll(async () => {
  await lab?.close()
})

/** Handles our code could leave behind (unref'd timers and c-ares queries do not show here; see trackingClock). */
function handles(): string[] {
  return process
    .getActiveResourcesInfo()
    .filter((r) => /Timeout|UDP|TCP|Query|GetAddrInfo/.test(r))
    .sort()
}

/** The real clock, counting timers that are set and not yet fired or cleared. */
/** No kind of handle is more numerous than before (the lab's own handles may come and go). */
function expectNoNewHandles(before: string[]): void {
  const count = (list: string[]) =>
    list.reduce((m, r) => m.set(r, (m.get(r) ?? 0) + 1), new Map<string, number>())
  const was = count(before)
  for (const [kind, n] of count(handles()))
    expect(`${kind} x${n}`).toBe(`${kind} x${Math.min(n, was.get(kind) ?? 0)}`)
}

describe('lifecycle', () => {
  it('close() leaves no timer, query or socket behind', async () => {
    const svc = await lab.addService({ name: 'web', kind: 'headless', replicas: 3 })
    const before = handles()
    const clock = trackingClock()
    const queries: string[] = []
    const web = createEndpointSource(
      { service: svc.fqdn, portName: 'http', dns: { servers: [lab.dnsServer], search: [], ndots: 1 } },
      { clock, createResolver: observedResolver(queries) },
    )
    await web.ready()
    // The refresh timer (TTL 1 s) and the ready() timeout... only the refresh timer is left.
    expect(clock.live.size).toBe(1)
    await web.close()
    expect(clock.live.size).toBe(0)
    expectNoNewHandles(before)
    const sent = queries.length
    await web.close()
    expect(() => web.refresh()).toThrow(ClosedError)
    await expect(web.ready()).rejects.toBeInstanceOf(ClosedError)
    // Nothing runs after close: no query goes out at the next TTL (an absence, so a bounded wait).
    await new Promise((resolve) => setTimeout(resolve, 1500))
    expect(queries.length).toBe(sent)
  })

  it('close() cancels a query that hangs (a DNS server that never answers)', async () => {
    // A UDP socket on loopback that swallows queries: every query hangs until its timeout.
    const silent = createSocket('udp4')
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve))
    try {
      const before = handles()
      const clock = trackingClock()
      const source = createEndpointSource(
        {
          service: 'web.default.svc.cluster.local',
          port: 8080,
          dns: {
            servers: [`127.0.0.1:${silent.address().port}`],
            search: [],
            ndots: 1,
            timeout: 30_000,
            tries: 1,
          },
        },
        { clock },
      )
      // The first query went out at construction; it hangs.
      const ready = source.ready().catch((e: unknown) => e)
      await source.close()
      // ClosedError (from close), not ResolutionError (from a timeout): the query was cancelled.
      expect(await ready).toBeInstanceOf(ClosedError)
      expect(clock.live.size).toBe(0)
      expectNoNewHandles(before)
    } finally {
      silent.close()
    }
  })

  // Runs the built package (npm run build first), in a process of its own.
  it('the timers are unref()d: an idle source does not keep the process alive', async () => {
    const svc = await lab.addService({ name: 'idle', kind: 'headless', replicas: 1 })
    const { spawnSync } = await import('node:child_process')
    const script = `
      import { createEndpointSource } from ${JSON.stringify(new URL('../../dist/esm/index.js', import.meta.url).pathname)}
      const s = createEndpointSource({ service: ${JSON.stringify(svc.fqdn)}, portName: 'http', dns: { servers: [${JSON.stringify(lab.dnsServer)}], search: [], ndots: 1 } })
      await s.ready()
      console.log(s.endpoints.length)
    `
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 20_000,
    })
    expect(result.stderr).toBe('')
    expect(result.stdout.trim()).toBe('1')
    expect(result.status).toBe(0)
  })
})
