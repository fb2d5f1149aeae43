import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Lab, startLab } from '../../lab/index.js'
import type { AttemptEvent, HedgeEvent } from '../../src/http/balanced-dispatcher.js'
import type { HeadlessClient } from '../../src/http/headless-client.js'
import { until } from '../support/until.js'
import { arrivalsById, labClient } from './http-support.js'

let lab: Lab
const clients: HeadlessClient[] = []

beforeAll(async () => {
  lab = await startLab({ ttl: 1 })
})
afterAll(async () => {
  for (const c of clients) await c.close()
  await lab?.close()
})

describe('hedged requests in the lab', () => {
  it('a slow pod: GETs sent to it are answered by a hedge to another pod; its attempts are cancelled, not counted against it', async () => {
    const svc = await lab.addService({ name: 'hedged', kind: 'headless', replicas: 3 })
    const client = labClient(lab, svc, { balancer: 'round-robin', hedge: { delay: 50 } })
    clients.push(client)
    await client.pool.ready()
    const slow = svc.pod('hedged-1')
    slow.fault({ kind: 'slow', latencyMs: 1_500 })
    const firstToSlow: AttemptEvent[] = []
    const hedges: HedgeEvent[] = []
    client.on('attempt', (e) => {
      if (e.attempt === 1 && e.endpoint.name === 'hedged-1') firstToSlow.push(e)
    })
    client.on('hedge', (e) => hedges.push(e))
    for (let i = 0; i < 9; i++) {
      const res = await client.request('/item')
      const body = (await res.body.json()) as { pod: string }
      expect(res.statusCode).toBe(200)
      expect(res.headers['x-pod']).not.toBe('hedged-1')
      // One response, whole: the body is the pod's that sent the headers.
      expect(body.pod).toBe(res.headers['x-pod'])
    }
    expect(firstToSlow.length).toBeGreaterThanOrEqual(3)
    // (A healthy answer slower than 50 ms on a loaded machine may be hedged too, so: at least.)
    expect(slow.requests.total).toBeGreaterThanOrEqual(firstToSlow.length)
    // Every request whose first attempt went to the slow pod was hedged, and won by its hedge.
    expect(client.stats().hedgesWon).toBeGreaterThanOrEqual(firstToSlow.length)
    expect(hedges.filter((h) => h.outstanding.some((e) => e.name === 'hedged-1'))).toHaveLength(
      firstToSlow.length,
    )
    // The abandoned attempts are released as cancelled: no failure and no ejection for hedged-1.
    await until('no request in flight', () => client.pool.stats().endpoints.every((e) => e.inFlight === 0))
    const stats = client.pool.stats().endpoints.find((e) => e.endpoint.name === 'hedged-1')
    expect(stats).toMatchObject({ failures: 0, ejections: 0, state: 'healthy' })
    expect(client.stats().failures).toBe(0)
  })

  it('a pod turning slow under load, defaults and hedge: true: it gets few first attempts, no POST reaches a pod twice, nothing is pending after close()', async () => {
    const svc = await lab.addService({ name: 'loaded', kind: 'headless', replicas: 4 })
    const client = labClient(lab, svc, { hedge: true })
    clients.push(client)
    await client.pool.ready()
    const slow = svc.pod('loaded-3')
    let started = 0
    let settled = 0
    let firstToSlow = 0
    let firsts = 0
    client.on('attempt', (e) => {
      if (e.attempt !== 1) return
      firsts++
      if (e.endpoint.name === 'loaded-3') firstToSlow++
    })
    const postIds: string[] = []
    let stop = false
    const send = async (method: 'GET' | 'POST', i: number) => {
      started++
      const id = `${method}-${i}-${started}`
      if (method === 'POST') postIds.push(id)
      try {
        const res = await client.request('/item', {
          method,
          headers: { 'x-request-id': id },
          ...(method === 'POST' ? { body: id } : {}),
        })
        await res.body.dump()
      } finally {
        settled++
      }
    }
    const loop = async (method: 'GET' | 'POST', i: number) => {
      while (!stop) await send(method, i)
    }
    const loops = Array.from({ length: 8 }, (_, i) => loop('GET', i))
    // Healthy first, for the 200 latencies the default p99 delay needs; then the pod turns slow.
    await until('400 GETs answered', () => settled >= 400, 30_000)
    slow.fault({ kind: 'slow', latencyMs: 400 })
    // GETs only: what the balancer learns of the slow pod comes from its hedged, losing attempts.
    await until('200 more', () => settled >= 600, 30_000)
    const firstsBefore = firsts
    const slowBefore = firstToSlow
    await until('600 more', () => settled >= 1_200, 30_000)
    const slowShare = (firstToSlow - slowBefore) / (firsts - firstsBefore)
    loops.push(loop('POST', 0), loop('POST', 1))
    await until('POSTs too', () => postIds.length >= 20, 30_000)
    // Close with requests out (GETs racing hedges, POSTs waiting on the slow pod).
    stop = true
    await client.close()
    await new Promise((resolve) => setImmediate(resolve))
    expect(started - settled).toBe(0)
    await Promise.all(loops)
    expect(client.dispatcher.lingering.size).toBe(0)
    expect(client.pool.stats().endpoints.every((e) => e.inFlight === 0)).toBe(true)
    // Every POST reached exactly one pod (hedges are for idempotent methods only).
    const arrivals = arrivalsById(svc)
    expect(postIds.filter((id) => arrivals.get(id) !== 1)).toEqual([])
    expect(client.stats().hedgesWon).toBeGreaterThan(0)
    // The slow pod gets far less than its fair share (1/4) of first attempts. (An invariant, not
    // the measure of the lingering losers: with 8 loops on an idle lab, the 0.2 % measured here
    // was 0.7-0.9 % without them; bench/hedging.ts, CPU-bound, shows the difference.)
    expect(slowShare).toBeLessThan(0.05)
  })

  it('pipelined connections: hedged GETs under load each get their own response, whole, and nothing is left pending', async () => {
    // Hedges sent at once (delay 0) over pipelined connections: a loser is often still queued
    // behind other requests when its race ends. Aborting it there once put undici's pipeline out
    // of step, and responses reached the wrong requests (CHANGELOG.md, Fixed).
    const svc = await lab.addService({ name: 'piped', kind: 'headless', replicas: 4 })
    const client = labClient(lab, svc, { hedge: { delay: 0 }, connections: 2, pipelining: 10 })
    clients.push(client)
    await client.pool.ready()
    const wrong: string[] = []
    let ended = 0
    const one = async (i: number) => {
      const res = await client.request(`/item?i=${i}`)
      const body = (await res.body.json()) as { url: string; pod: string }
      if (body.url !== `/item?i=${i}` || body.pod !== res.headers['x-pod']) wrong.push(`${i}: ${body.url}`)
      ended++
    }
    const all = Promise.all(Array.from({ length: 600 }, (_, i) => one(i)))
    await until('every GET to end', () => ended === 600, 30_000)
    await all
    expect(wrong).toEqual([])
    expect(client.stats()).toMatchObject({ requests: 600, failures: 0 })
    expect(client.stats().hedges).toBeGreaterThan(0)
  })

  it('never hedges a POST: the one sent to the slow pod waits for it, and every POST reaches exactly one pod', async () => {
    const svc = await lab.addService({ name: 'posted', kind: 'headless', replicas: 3 })
    const client = labClient(lab, svc, { balancer: 'round-robin', hedge: { delay: 0 } })
    clients.push(client)
    await client.pool.ready()
    const slow = svc.pod('posted-0')
    slow.fault({ kind: 'slow', latencyMs: 300 })
    const answeredBy: string[] = []
    for (let i = 0; i < 3; i++) {
      const res = await client.request('/orders', { method: 'POST', body: `order ${i}` })
      expect(res.statusCode).toBe(200)
      answeredBy.push(String(res.headers['x-pod']))
      await res.body.dump()
    }
    expect(answeredBy).toContain('posted-0')
    expect(svc.pods.reduce((n, p) => n + (p.requests.byMethod.POST ?? 0), 0)).toBe(3)
    expect(slow.requests.byMethod.POST).toBe(1)
    expect(client.stats()).toMatchObject({ requests: 3, attempts: 3, hedges: 0 })
  })
})
