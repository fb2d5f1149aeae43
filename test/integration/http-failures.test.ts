import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Lab, startLab } from '../../lab/index.js'
import { DeadlineExceededError, RequestFailedError } from '../../src/errors.js'
import type { RetryEvent } from '../../src/http/balanced-dispatcher.js'
import type { HeadlessClient } from '../../src/http/headless-client.js'
import type { EjectEvent } from '../../src/pool.js'
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

describe('pods failing under a client in the lab', () => {
  it('a pod killed under load loses no GET, and is ejected at its first refused connect', async () => {
    const svc = await lab.addService({ name: 'killed', kind: 'headless', replicas: 3 })
    const client = labClient(lab, svc, { balancer: 'round-robin' })
    clients.push(client)
    const ejections: EjectEvent[] = []
    client.pool.on('eject', (e) => ejections.push(e))
    const load = getLoad(client, 8)
    await until('traffic on every pod', () => svc.pods.every((p) => p.requests.total > 20))
    const victim = svc.pod('killed-1')
    const ejected = nextEvent<EjectEvent>(client.pool, 'eject', (e) => e.endpoint.name === 'killed-1')
    await victim.kill()
    const ejection = await ejected
    const servedByOthers = () =>
      svc.pods.filter((p) => p !== victim).reduce((n, p) => n + p.requests.total, 0)
    const mark = servedByOthers()
    await until('200 more requests', () => servedByOthers() >= mark + 200)
    const { failures, ok } = await load.stop()
    expect(failures).toEqual([])
    expect(ok).toBeGreaterThan(200)
    expect(ejection.reason).toBe('connect-refused')
    expect(ejections.filter((e) => e.endpoint.name === 'killed-1')).toHaveLength(1)
    // Refused connects never reach a server: each one cost the request an immediate retry, and
    // the first one ejected the pod, so very few requests were ever tried on it after the kill.
    expect(client.stats().retries).toBeLessThan(20)
  })

  it('a hung pod: GETs fail over to another pod after the headers timeout', async () => {
    const svc = await lab.addService({ name: 'hung', kind: 'headless', replicas: 3 })
    const client = labClient(lab, svc, { balancer: 'round-robin', timeouts: { headers: 300 } })
    clients.push(client)
    const retries: RetryEvent[] = []
    client.on('retry', (e) => retries.push(e))
    svc.pod('hung-0').fault({ kind: 'hang' })
    for (let i = 0; i < 6; i++) {
      const res = await client.request('/')
      expect(res.statusCode).toBe(200)
      expect(res.headers['x-pod']).not.toBe('hung-0')
      await res.body.dump()
    }
    expect(svc.pod('hung-0').requests.total).toBeGreaterThan(0)
    expect(retries.length).toBeGreaterThan(0)
    expect(retries.every((r) => r.kind === 'timeout' && r.endpoint.name === 'hung-0')).toBe(true)
  })

  it('a black-holed pod: GETs fail over after the connect timeout', async (context) => {
    if (!lab.blackholeSupport.supported) {
      context.skip(lab.blackholeSupport.reason)
      return
    }
    const svc = await lab.addService({ name: 'void', kind: 'headless', replicas: 3 })
    await svc.pod('void-2').blackhole(true)
    const client = labClient(lab, svc, { balancer: 'round-robin', timeouts: { connect: 300 } })
    clients.push(client)
    const retries: RetryEvent[] = []
    client.on('retry', (e) => retries.push(e))
    for (let i = 0; i < 6; i++) {
      const res = await client.request('/')
      expect(res.statusCode).toBe(200)
      expect(res.headers['x-pod']).not.toBe('void-2')
      await res.body.dump()
    }
    expect(retries.length).toBeGreaterThan(0)
    expect(retries.every((r) => r.kind === 'connect-timeout' && r.endpoint.name === 'void-2')).toBe(true)
    await svc.pod('void-2').blackhole(false)
  })

  it('a pod answering 503: GETs are retried elsewhere, the pod is ejected, traffic moves away', async () => {
    const svc = await lab.addService({ name: 'sick', kind: 'headless', replicas: 3 })
    const client = labClient(lab, svc, {
      balancer: 'round-robin',
      outlierDetection: { consecutiveFailures: 3 },
    })
    clients.push(client)
    const sick = svc.pod('sick-2')
    sick.fault({ kind: 'errors', ratio: 1, status: 503 })
    const ejected = nextEvent<EjectEvent>(client.pool, 'eject', (e) => e.endpoint.name === 'sick-2')
    for (let i = 0; i < 12; i++) {
      const res = await client.request('/')
      expect(res.statusCode).toBe(200)
      await res.body.dump()
    }
    expect((await ejected).reason).toBe('consecutive-failures')
    const before = sick.requests.total
    for (let i = 0; i < 12; i++) await (await client.request('/')).body.dump()
    expect(sick.requests.total).toBe(before)
  })

  it('a POST is never sent twice when its pod dies mid-request (counted on the pods)', async () => {
    const svc = await lab.addService({ name: 'orders', kind: 'headless', replicas: 3 })
    const client = labClient(lab, svc, { balancer: 'round-robin', timeouts: { connect: 300 } })
    clients.push(client)
    const dying = svc.pod('orders-1')
    dying.fault({ kind: 'slow', latencyMs: 2_000 })
    const posts = Array.from({ length: 12 }, (_, i) =>
      client.request('/orders', { method: 'POST', body: `order-${i}` }).then(
        async (res) => {
          await res.body.dump()
          return res.statusCode
        },
        (error: unknown) => error,
      ),
    )
    await until('POSTs in flight on orders-1', () => (dying.requests.byMethod.POST ?? 0) >= 4)
    await dying.kill()
    const results = await Promise.all(posts)
    const failed = results.filter((r) => r instanceof RequestFailedError) as RequestFailedError[]
    expect(failed).toHaveLength(4)
    for (const error of failed) {
      expect(error.attempts).toHaveLength(1)
      expect(error.message).toMatch(/not retried: the request may have reached the server/)
    }
    const received = svc.pods.reduce((n, p) => n + (p.requests.byMethod.POST ?? 0), 0)
    expect(received).toBe(12)
  })

  it('a deadline aborts the attempt in flight and every retry', async () => {
    const svc = await lab.addService({ name: 'late', kind: 'headless', replicas: 2 })
    for (const pod of svc.pods) pod.fault({ kind: 'hang' })
    const client = labClient(lab, svc, { timeouts: { headers: 5_000 } })
    clients.push(client)
    const started = Date.now()
    const error = await client.request('/', { signal: AbortSignal.timeout(300) }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(DeadlineExceededError)
    expect((error as DeadlineExceededError).service).toBe(svc.fqdn)
    expect(client.stats()).toMatchObject({ attempts: 1, retries: 0 })
    expect(Date.now() - started).toBeLessThan(5_000) // long before the headers timeout
    const controller = new AbortController()
    const pending = client.request('/', { signal: controller.signal })
    await until('the request to reach a pod', () => svc.pods.reduce((n, p) => n + p.requests.total, 0) === 2)
    controller.abort(new Error('user went away'))
    await expect(pending).rejects.toMatchObject({
      code: 'HLB_ERR_DEADLINE',
      cause: { message: 'user went away' },
    })
  })
})
