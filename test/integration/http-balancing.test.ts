import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Lab, startLab } from '../../lab/index.js'
import type { EndpointChange } from '../../src/endpoint.js'
import type { HeadlessClient } from '../../src/http/headless-client.js'
import { nextEvent } from '../support/next-event.js'
import { until } from '../support/until.js'
import { getLoad, labClient } from './http-support.js'

let lab: Lab
const clients: HeadlessClient[] = []

beforeAll(async () => {
  lab = await startLab({ ttl: 1 })
})
afterAll(async () => {
  for (const c of clients) await c.close()
  await lab?.close()
})

describe('per-request balancing in the lab', () => {
  it('spreads requests over 3 pods on keep-alive connections, each pod within 5% of its share', async () => {
    const svc = await lab.addService({ name: 'even', kind: 'headless', replicas: 3 })
    const client = labClient(lab, svc, { balancer: 'round-robin', connections: 2 })
    clients.push(client)
    const load = getLoad(client, 6)
    await until('900 requests', () => svc.pods.reduce((n, p) => n + p.requests.total, 0) >= 900)
    const { ok, failures, byPod } = await load.stop()
    expect(failures).toEqual([])
    for (const pod of svc.pods) {
      const share = (byPod.get(pod.name) ?? 0) / ok
      expect(Math.abs(share - 1 / 3)).toBeLessThanOrEqual(0.05 / 3)
    }
    // Keep-alive: at most `connections` sockets per pod were ever needed, so the pods saw
    // hundreds of requests each over a handful of connections.
    expect(client.stats().pools).toHaveLength(3)
    expect(client.stats().attempts).toBe(client.stats().requests)
  })

  it('a new pod gets traffic within one refresh of a scale-up', async () => {
    const svc = await lab.addService({ name: 'grow', kind: 'headless', replicas: 2 })
    const client = labClient(lab, svc, { balancer: 'round-robin' })
    clients.push(client)
    for (let i = 0; i < 4; i++) await (await client.request('/')).body.dump()
    const added = nextEvent<EndpointChange>(client.pool, 'change', (c) => c.added.length > 0, 10_000)
    await svc.scale(3)
    await added
    const seen = new Set<string>()
    for (let i = 0; i < 3; i++) {
      const res = await client.request('/')
      seen.add(String(res.headers['x-pod']))
      await res.body.dump()
    }
    expect(seen).toEqual(new Set(['grow-0', 'grow-1', 'grow-2']))
  })

  it('a pod leaving DNS drains without a single failed request, then its connection pool closes', async () => {
    const svc = await lab.addService({ name: 'shrink', kind: 'headless', replicas: 3 })
    const client = labClient(lab, svc, { balancer: 'round-robin' })
    clients.push(client)
    const leaving = svc.pod('shrink-2')
    leaving.fault({ kind: 'slow', latencyMs: 200 }) // so that requests are in flight on it when it goes
    const load = getLoad(client, 6)
    await until('traffic on every pod', () => svc.pods.every((p) => p.requests.total > 5))
    const removed = nextEvent<EndpointChange>(client.pool, 'change', (c) => c.removed.length > 0, 10_000)
    await leaving.setReady(false) // leaves DNS, keeps serving: a terminating pod
    await removed
    const servedBefore = leaving.requests.total
    await until(
      'the drain to finish',
      () => client.stats().draining === 0 && client.stats().pools.length === 2,
    )
    await svc.scale(2)
    const { failures, ok } = await load.stop()
    expect(failures).toEqual([])
    expect(ok).toBeGreaterThan(0)
    expect(leaving.requests.total).toBe(servedBefore)
  })
})
