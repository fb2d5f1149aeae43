import diagnostics from 'node:diagnostics_channel'
import type { Socket } from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type Lab, type LabPod, type LabService, startLab } from '../../lab/index.js'
import { DeadlineExceededError } from '../../src/errors.js'
import type { HeadlessClient } from '../../src/http/headless-client.js'
import type { EjectEvent, HealthEvent } from '../../src/pool.js'
import { nextEvent } from '../support/next-event.js'
import { arrivalsById, labClient } from './http-support.js'

let lab: Lab
const clients: HeadlessClient[] = []
const unwatch: Array<() => void> = []

beforeAll(async () => {
  lab = await startLab({ ttl: 1 })
})
afterEach(() => {
  for (const stop of unwatch.splice(0)) stop()
})
afterAll(async () => {
  for (const c of clients) await c.destroy()
  await lab?.close()
})

/**
 * The client's sockets to `pod`, seen through undici's diagnostics channels: every connection
 * opened to it (in order), and the socket each request was written on.
 */
function watchSockets(pod: LabPod): { opened: Socket[]; written: Socket[] } {
  const seen = { opened: [] as Socket[], written: [] as Socket[] }
  const onConnected = (message: unknown) => {
    const { socket } = message as { socket: Socket }
    if (socket.remoteAddress === pod.ip) seen.opened.push(socket)
  }
  const onHeaders = (message: unknown) => {
    const { socket } = message as { socket: Socket }
    if (socket.remoteAddress === pod.ip) seen.written.push(socket)
  }
  diagnostics.subscribe('undici:client:connected', onConnected)
  diagnostics.subscribe('undici:client:sendHeaders', onHeaders)
  unwatch.push(() => {
    diagnostics.unsubscribe('undici:client:connected', onConnected)
    diagnostics.unsubscribe('undici:client:sendHeaders', onHeaders)
  })
  return seen
}

/** Rounds of concurrent GETs until every pod holds `n` keep-alive connections. */
async function warm(client: HeadlessClient, svc: LabService, n: number): Promise<void> {
  for (let round = 0; round < 20 && !svc.pods.every((p) => p.connections.open >= n); round++) {
    await Promise.all(
      Array.from({ length: n * svc.pods.length * 2 }, async () => (await client.request('/')).body.dump()),
    )
  }
  expect(svc.pods.map((p) => p.connections.open)).toEqual(svc.pods.map(() => n))
}

let ids = 0
function post(client: HeadlessClient, deadline: number): Promise<string> {
  return client
    .request('/orders', {
      method: 'POST',
      body: 'order',
      headers: { 'x-request-id': `order-${++ids}` },
      signal: AbortSignal.timeout(deadline),
    })
    .then(async (res) => {
      await res.body.dump()
      expect(res.statusCode).toBe(200)
      return String(res.headers['x-pod'])
    })
}

/** POST ids that reached some pod of `svc` more than once. */
function sentTwice(svc: LabService): string[] {
  return [...arrivalsById(svc)].filter(([, n]) => n > 1).map(([id]) => id)
}

describe('a pod black-holed with live keep-alive sockets', () => {
  it('POSTs queued for it and never written complete on other pods; none reaches a pod twice', async (context) => {
    if (!lab.blackholeSupport.supported) return context.skip(lab.blackholeSupport.reason)
    const svc = await lab.addService({ name: 'queue', kind: 'headless', replicas: 3 })
    const client = labClient(lab, svc, {
      balancer: 'round-robin',
      // Two connections a pod: a third request to one waits in its undici Pool's queue.
      connections: 2,
      keepAliveTimeout: 30_000,
      outlierDetection: { consecutiveFailures: 2 },
    })
    clients.push(client)
    await warm(client, svc, 2)
    const victim = svc.pod('queue-1')
    const sockets = watchSockets(victim)
    const live = victim.connections.open
    const ejected = nextEvent<EjectEvent>(client.pool, 'eject', (e) => e.endpoint.name === 'queue-1')
    await victim.blackhole(true)
    // Round-robin: 4 of 12 go to the black-holed pod, 2 onto its live sockets, 2 queued behind them.
    const outcomes = await Promise.all(
      Array.from({ length: 12 }, () => post(client, 3_000).catch((error: unknown) => error)),
    )
    const failed = outcomes.filter((o) => typeof o !== 'string')
    const served = outcomes.filter((o): o is string => typeof o === 'string')
    // Only what was written onto the live sockets is lost (to the deadline, never re-sent).
    expect(failed.length).toBeLessThanOrEqual(live)
    expect(failed.every((e) => e instanceof DeadlineExceededError)).toBe(true)
    expect(served.length + failed.length).toBe(12)
    expect(served).not.toContain('queue-1')
    expect(sentTwice(svc)).toEqual([])
    expect(client.stats().attemptsMoved).toBeGreaterThanOrEqual(1)
    expect(client.stats().retries).toBe(0)
    // The deadlines of the stuck POSTs are the pod's timeouts: they eject it.
    await ejected
    // Nothing was written to it but the stuck requests, on the sockets it had before the fault.
    expect(sockets.written.length).toBe(failed.length)
    await victim.blackhole(false)
  })

  it('once ejected, its idle sockets are closed: after it returns, a POST opens a fresh connection (connect timeout, then another pod) instead of a dead socket', async (context) => {
    if (!lab.blackholeSupport.supported) return context.skip(lab.blackholeSupport.reason)
    const svc = await lab.addService({ name: 'idle', kind: 'headless', replicas: 3 })
    const client = labClient(lab, svc, {
      balancer: 'round-robin',
      connections: 2,
      keepAliveTimeout: 30_000,
      timeouts: { connect: 300 },
      outlierDetection: { consecutiveFailures: 1, baseEjectionTime: 1_000, probation: 0 },
      // Stall detection alone would retire the pod's connections before the ejection: this test
      // is about what ejection does.
      stallDetection: false,
    })
    clients.push(client)
    await warm(client, svc, 2)
    const victim = svc.pod('idle-2')
    const sockets = watchSockets(victim)
    const before = [...sockets.opened]
    const ejected = nextEvent<EjectEvent>(client.pool, 'eject', (e) => e.endpoint.name === 'idle-2')
    await victim.blackhole(true)
    // Three GETs, one each: the one on the black-holed pod takes one of its two sockets and
    // times out; the other socket stays idle.
    const first = await Promise.all(
      Array.from({ length: 3 }, () =>
        client
          .request('/', { signal: AbortSignal.timeout(500) })
          .then((res) => res.body.dump().then(() => 'ok'))
          .catch((error: unknown) => error),
      ),
    )
    expect(first.filter((o) => o instanceof DeadlineExceededError)).toHaveLength(1)
    await ejected
    const returned = nextEvent<HealthEvent>(
      client.pool,
      'health',
      (e) => e.endpoint.name === 'idle-2' && e.reason === 'returned',
    )
    await returned
    // Back in rotation, still black-holed: the next POSTs to it go to fresh connections, whose
    // connects time out before anything is written, and then to another pod.
    const mark = sockets.written.length
    const served = await Promise.all(Array.from({ length: 6 }, () => post(client, 3_000)))
    expect(served).not.toContain('idle-2')
    expect(sockets.written.length).toBe(mark)
    expect(sentTwice(svc)).toEqual([])
    // Every socket it had before the fault is closed, the idle one included.
    expect(before.every((s) => s.destroyed)).toBe(true)
    await victim.blackhole(false)
  })
})
