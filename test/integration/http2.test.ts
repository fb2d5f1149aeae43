import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type H2Pods, startH2Pods } from '../../lab/h2-pods.js'
import { type Lab, type LabService, startLab } from '../../lab/index.js'
import { createClient } from '../../src/http/create-client.js'
import type { HeadlessClient } from '../../src/http/headless-client.js'
import { selfSignedCertificate } from '../support/self-signed-certificate.js'
import { until } from '../support/until.js'

let lab: Lab
const cleanups: Array<() => Promise<void>> = []

beforeAll(async () => {
  lab = await startLab({ ttl: 1 })
})
afterAll(async () => {
  for (const c of cleanups.reverse()) await c()
  await lab?.close()
})

async function h2Service(
  name: string,
  options: { maxConcurrentStreams?: number; allowH2?: boolean } = {},
): Promise<{ svc: LabService; pods: H2Pods; client: HeadlessClient }> {
  const svc = await lab.addService({ name, kind: 'headless', replicas: 3, servePods: false })
  const tls = selfSignedCertificate([svc.fqdn])
  const pods = await startH2Pods(svc, tls, options)
  const client = createClient({
    origin: `https://${svc.fqdn}:${svc.port}`,
    portName: 'http',
    dns: { servers: [lab.dnsServer], search: [], ndots: 1 },
    // round-robin: the evenness checks below are about sessions and streams, not latency (a
    // 300-request burst from cold is too short for latency-aware balancing to even out).
    balancer: 'round-robin',
    tls: { ca: tls.cert },
    ...(options.allowH2 === undefined ? {} : { allowH2: options.allowH2 }),
  })
  cleanups.push(
    () => client.close(),
    () => pods.close(),
  )
  return { svc, pods, client }
}

/** `total` requests in `concurrency` loops; failures by method. */
async function load(
  client: HeadlessClient,
  total: number,
  concurrency: number,
  method: (i: number) => 'GET' | 'POST' = () => 'GET',
): Promise<{ byPod: Map<string, number>; failed: string[] }> {
  const byPod = new Map<string, number>()
  const failed: string[] = []
  let next = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const m = method(next++)
        try {
          const res = await client.request('/', { method: m, ...(m === 'POST' ? { body: '{}' } : {}) })
          const pod = String(res.headers['x-pod'])
          await res.body.dump()
          byPod.set(pod, (byPod.get(pod) ?? 0) + 1)
        } catch {
          failed.push(m)
        }
      }
    }),
  )
  return { byPod, failed }
}

describe('HTTP/2 to pods (undici negotiates h2 over TLS)', () => {
  it('balances every request across the pods, one session per pod; :authority and SNI are the service name', async () => {
    const { svc, pods, client } = await h2Service('h2-even')
    const { byPod, failed } = await load(client, 300, 12)
    expect(failed).toEqual([])
    console.log(`h2: ${[...byPod].map(([p, n]) => `${p} ${n}`).join(', ')}`)
    for (const pod of svc.pods) {
      const s = pods.stats.get(pod.name)
      expect(Math.abs((byPod.get(pod.name) ?? 0) - 100)).toBeLessThanOrEqual(15)
      expect(s?.sessions).toBe(1)
      expect(s?.authorities).toEqual(new Set([`${svc.fqdn}:${svc.port}`]))
      expect(s?.snis).toEqual(new Set([svc.fqdn]))
    }
  })

  it("respects the pod's SETTINGS_MAX_CONCURRENT_STREAMS: never more streams open on a session", async () => {
    const { pods, client } = await h2Service('h2-streams', { maxConcurrentStreams: 2 })
    pods.latencyMs = 20
    const { failed } = await load(client, 120, 24)
    expect(failed).toEqual([])
    for (const s of pods.stats.values()) {
      expect(s.streams).toBeGreaterThan(0)
      expect(s.maxActive).toBeLessThanOrEqual(2)
    }
  })

  it("a pod's GOAWAY drains it without failing a request", async () => {
    const { pods, client } = await h2Service('h2-goaway')
    pods.latencyMs = 10
    const running = load(client, 400, 12)
    await until('traffic on every pod', () => [...pods.stats.values()].every((s) => s.streams > 10))
    pods.goaway('h2-goaway-1')
    const { failed } = await running
    expect(failed).toEqual([])
    // The client opened a new session to the pod after its GOAWAY (the pod is still healthy).
    expect(pods.stats.get('h2-goaway-1')?.sessions).toBeGreaterThanOrEqual(1)
  })

  it('a pod killed with streams in flight loses only requests that may not be retried (POST)', async () => {
    const { pods, client } = await h2Service('h2-kill')
    pods.latencyMs = 20
    const running = load(client, 400, 12, (i) => (i % 2 === 0 ? 'GET' : 'POST'))
    await until('traffic on every pod', () => [...pods.stats.values()].every((s) => s.streams > 10))
    await pods.kill('h2-kill-2')
    const { failed } = await running
    console.log(`h2 kill: ${failed.length} failed (${failed.join(' ')})`)
    expect(failed.every((m) => m === 'POST')).toBe(true)
  })

  it('allowH2: false speaks HTTP/1.1 only (an h2-only pod then refuses it)', async () => {
    const { client } = await h2Service('h2-off', { allowH2: false })
    await expect(client.request('/', { method: 'POST', body: '{}' })).rejects.toMatchObject({
      code: 'HLB_ERR_REQUEST_FAILED',
    })
  })
})

describe('h2c: cleartext HTTP/2 by prior knowledge (h2c: true)', () => {
  it('balances every request across the pods, one session per pod, :authority the service name', async () => {
    const svc = await lab.addService({ name: 'h2c-even', kind: 'headless', replicas: 3, servePods: false })
    const pods = await startH2Pods(svc, undefined, { cleartext: true })
    const client = createClient({
      origin: `http://${svc.fqdn}:${svc.port}`,
      portName: 'http',
      dns: { servers: [lab.dnsServer], search: [], ndots: 1 },
      balancer: 'round-robin', // as in h2Service: the evenness check is about sessions
      h2c: true,
    })
    cleanups.push(
      () => client.close(),
      () => pods.close(),
    )
    const { byPod, failed } = await load(client, 300, 12)
    expect(failed).toEqual([])
    console.log(`h2c: ${[...byPod].map(([p, n]) => `${p} ${n}`).join(', ')}`)
    for (const pod of svc.pods) {
      const s = pods.stats.get(pod.name)
      expect(Math.abs((byPod.get(pod.name) ?? 0) - 100)).toBeLessThanOrEqual(15)
      expect(s?.sessions).toBe(1)
      expect(s?.authorities).toEqual(new Set([`${svc.fqdn}:${svc.port}`]))
    }
  })
  it('hedged GETs over sessions with few streams: a loser abandoned while queued is refused before it is written, and every caller gets one response', async () => {
    // Two streams per session: hedges sent at once (delay 0) queue behind others, and a loser is
    // then refused from onRequestStart (the HTTP/2 side of the pipelining fix, CHANGELOG.md).
    const svc = await lab.addService({ name: 'h2c-hedged', kind: 'headless', replicas: 3, servePods: false })
    const pods = await startH2Pods(svc, undefined, { cleartext: true, maxConcurrentStreams: 2 })
    const client = createClient({
      origin: `http://${svc.fqdn}:${svc.port}`,
      portName: 'http',
      dns: { servers: [lab.dnsServer], search: [], ndots: 1 },
      h2c: true,
      hedge: { delay: 0 },
      retry: { budget: false },
    })
    cleanups.push(
      () => client.close(),
      () => pods.close(),
    )
    await client.pool.ready()
    let heads = 0
    let ended = 0
    const one = async () => {
      const res = await client.request('/item')
      heads++
      const body = (await res.body.json()) as { pod: string }
      expect(body.pod).toBe(res.headers['x-pod'])
      ended++
    }
    const all = Promise.all(Array.from({ length: 400 }, one))
    await until('every GET to end', () => ended === 400, 30_000)
    await all
    expect(heads).toBe(400)
    expect(client.stats()).toMatchObject({ requests: 400, failures: 0 })
    expect(client.stats().hedges).toBeGreaterThan(0)
    // Some losers never became streams: the pods saw fewer streams than attempts were made.
    const streams = [...pods.stats.values()].reduce((n, s) => n + s.streams, 0)
    expect(streams).toBeLessThan(client.stats().attempts)
  })
})
