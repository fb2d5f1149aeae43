import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Lab, startLab } from '../../lab/index.js'
import { createEndpointSource, type DiscoveryInternals } from '../../src/discovery/create-endpoint-source.js'
import type { DiscoveryOptions } from '../../src/discovery/discovery-options.js'
import type { EndpointSource } from '../../src/discovery/endpoint-source.js'
import { type Clock, systemClock } from '../../src/internal/clock.js'
import { nextChange, observedResolver } from './discovery-support.js'

let lab: Lab
const sources: EndpointSource[] = []

beforeAll(async () => {
  // TTL 1 s: changes show within about a second, so the tests stay short.
  lab = await startLab({ ttl: 1 })
})

afterAll(async () => {
  for (const source of sources) await source.close()
  await lab?.close()
})

function source(options: Omit<DiscoveryOptions, 'dns'>, internals: DiscoveryInternals = {}): EndpointSource {
  const created = createEndpointSource(
    { ...options, dns: { servers: [lab.dnsServer], search: [], ndots: 1 } },
    internals,
  )
  sources.push(created)
  return created
}

/** The real clock, recording the delays discovery schedules (DNS is real; only timing is observed). */
function recordingClock(): Clock & { delays: number[] } {
  const delays: number[] = []
  return {
    delays,
    now: () => systemClock.now(),
    setTimeout(callback, ms) {
      delays.push(ms)
      return systemClock.setTimeout(callback, ms)
    },
    clearTimeout: (handle) => systemClock.clearTimeout(handle),
  }
}

describe('the endpoint set follows DNS', () => {
  it('scaling a StatefulSet up and down adds and removes the highest ordinals', async () => {
    const svc = await lab.addService({ name: 'web', kind: 'headless', replicas: 2 })
    const web = source({ service: svc.fqdn, portName: 'http' })
    await web.ready()
    expect(web.endpoints.map((e) => e.name)).toEqual(['web-0', 'web-1'])

    const up = nextChange(web, (c) => c.added.length > 0)
    await svc.scale(4)
    const added = await up
    expect(added.added.map((e) => e.name)).toEqual(['web-2', 'web-3'])
    // CoreDNS weights are 100 / targets, so the pods that stayed are updated with weight 25.
    expect(added.updated.map((u) => [u.current.name, u.current.weight])).toEqual([
      ['web-0', 25],
      ['web-1', 25],
    ])
    expect(web.endpoints.map((e) => e.name)).toEqual(['web-0', 'web-1', 'web-2', 'web-3'])

    const down = nextChange(web, (c) => c.removed.length > 0)
    await svc.scale(1)
    const removed = await down
    expect(removed.removed.map((e) => e.name)).toEqual(['web-1', 'web-2', 'web-3'])
    expect(web.endpoints.map((e) => e.name)).toEqual(['web-0'])
  })

  it('a pod restarted with a new IP is updated, with the same id', async () => {
    const svc = await lab.addService({ name: 'db', kind: 'headless', replicas: 2 })
    const db = source({ service: svc.fqdn, portName: 'http' })
    await db.ready()
    const before = db.endpoints.find((e) => e.name === 'db-1')!
    const changed = nextChange(db)
    await svc.pod('db-1').restart({ newIp: true })
    const change = await changed
    expect(change.added).toEqual([])
    expect(change.removed).toEqual([])
    expect(change.updated).toHaveLength(1)
    expect(change.updated[0]!.previous).toBe(before)
    expect(change.updated[0]!.current).toMatchObject({ id: before.id, address: svc.pod('db-1').ip })
    expect(svc.pod('db-1').ip).not.toBe(before.address)
  })

  it('no ready pods empties the set, after a second answer confirms it', async () => {
    const svc = await lab.addService({ name: 'gone', kind: 'headless', replicas: 2 })
    const queries: string[] = []
    const gone = source(
      { service: svc.fqdn, portName: 'http' },
      { createResolver: observedResolver(queries) },
    )
    await gone.ready()
    const emptied = nextChange(gone, (c) => c.endpoints.length === 0)
    for (const pod of svc.pods) await pod.setReady(false)
    const sentBefore = queries.length
    const change = await emptied
    expect(change.removed).toHaveLength(2)
    // The first NXDOMAIN answer is not believed alone: a second SRV query confirms it.
    const srvAfter = queries.slice(sentBefore).filter((q) => q.startsWith('SRV'))
    expect(srvAfter.length).toBeGreaterThanOrEqual(2)
    const back = nextChange(gone, (c) => c.added.length > 0)
    await svc.pod('gone-0').setReady(true)
    expect((await back).added.map((e) => e.name)).toEqual(['gone-0'])
  })

  it('refreshes at the TTL of the answers: TTL 0, 5 and 30 s', async () => {
    const svc = await lab.addService({ name: 'ttl', kind: 'headless', replicas: 2 })
    try {
      for (const [ttl, low, high] of [
        [0, 1000, 1100], // floor: minRefresh, spread upwards
        [5, 4500, 5000], // spread downwards by up to 10%
        [30, 27_000, 30_000], // also the maxRefresh default
      ] as const) {
        await lab.setTtl(ttl)
        const clock = recordingClock()
        const s = source({ service: svc.fqdn, portName: 'http' }, { clock })
        await s.ready()
        expect(clock.delays.at(-1)).toBeGreaterThanOrEqual(low)
        expect(clock.delays.at(-1)).toBeLessThanOrEqual(high)
        await s.close()
      }
    } finally {
      await lab.setTtl(1)
    }
  })

  it('TTL 0 answers still track changes (refreshing at minRefresh)', async () => {
    await lab.setTtl(0)
    try {
      const svc = await lab.addService({ name: 'zero-ttl', kind: 'headless', replicas: 1 })
      const s = source({ service: svc.fqdn, port: svc.port })
      await s.ready()
      const changed = nextChange(s, (c) => c.added.length === 1)
      await svc.scale(2)
      await changed
      expect(s.endpoints).toHaveLength(2)
    } finally {
      await lab.setTtl(1)
    }
  })

  it('a DNS change reaches the change event by the second refresh after BIND serves it (TTL 1 s, minRefresh 1 s)', async () => {
    const svc = await lab.addService({ name: 'lag', kind: 'headless', replicas: 1 })
    const queries: string[] = []
    const s = source(
      { service: svc.fqdn, port: svc.port, minRefresh: 1000 },
      { createResolver: observedResolver(queries) },
    )
    await s.ready()
    const lags: number[] = []
    const refreshesUntilSeen: number[] = []
    for (let i = 0; i < 8; i++) {
      const growing = i % 2 === 0
      const changed = nextChange(s)
      // Desynchronise the change from the refresh timer, so the runs cover the whole cycle.
      await new Promise((resolve) => setTimeout(resolve, 137 * i))
      await svc.scale(growing ? 2 : 1)
      const served = performance.now()
      const sentBefore = queries.length
      const change = await changed
      lags.push(performance.now() - served)
      refreshesUntilSeen.push(queries.slice(sentBefore).filter((q) => q.startsWith('A ')).length)
      // The change is the one BIND serves: one pod more, or one fewer.
      expect([change.added.length, change.removed.length]).toEqual(growing ? [1, 0] : [0, 1])
      expect(s.endpoints).toHaveLength(growing ? 2 : 1)
    }
    lags.sort((x, y) => x - y)
    const median = (lags[3]! + lags[4]!) / 2
    console.log(
      `DNS change -> change event (TTL 1 s, minRefresh 1 s), ${lags.length} runs: min ${lags[0]!.toFixed(0)} ms, median ${median.toFixed(0)} ms, max ${lags.at(-1)!.toFixed(0)} ms; A queries sent after the change was served, per run: ${refreshesUntilSeen.join(' ')}`,
    )
    // Wall-clock lags are printed, not asserted. The invariant: a query in flight when BIND served
    // the change may carry the old answer (or one c-ares cached for the 1 s TTL), so the change
    // shows at the latest in the answer to the second query sent after it was served. Not every
    // refresh is needed: a run with 0 saw the change in a query already in flight.
    for (const n of refreshesUntilSeen) expect(n).toBeLessThanOrEqual(2)
  })
})
