import type { ServerResponse } from 'node:http'
import type { Dispatcher } from 'undici'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { DeadlineExceededError } from '../../../src/errors.js'
import type { HedgeEvent } from '../../../src/http/balanced-dispatcher.js'
import type { HttpOptions } from '../../../src/http/client-options.js'
import { createClient } from '../../../src/http/create-client.js'
import { HeadlessAgent } from '../../../src/http/headless-agent.js'
import type { HeadlessClient } from '../../../src/http/headless-client.js'
import { until } from '../../support/until.js'
import { endpoint, FakePool } from './fake-pool.js'
import { type Behaviour, TestServer } from './test-servers.js'

const servers: TestServer[] = []
const clients: Array<{ close(): Promise<void> }> = []

afterEach(async () => {
  vi.restoreAllMocks()
  await Promise.all(clients.splice(0).map((c) => c.close()))
  await Promise.all(servers.splice(0).map((s) => s.close()))
})

/** A pod that holds every response until `release()`, and notes the requests its client abandoned. */
class HeldPod {
  readonly held: ServerResponse[] = []
  abandoned = 0
  readonly behaviour: Behaviour = (req, res, server) => {
    req.resume()
    this.held.push(res)
    res.on('close', () => {
      if (!res.writableFinished) this.abandoned++
    })
    res.setHeader('x-pod', server.name)
  }
  release(): void {
    for (const res of this.held.splice(0)) if (!res.destroyed) res.end(String(res.getHeader('x-pod')))
  }
}

async function start(n: number): Promise<TestServer[]> {
  const started: TestServer[] = []
  for (let i = 0; i < n; i++) {
    const s = await new TestServer(`web-${i}`, `127.0.0.${i + 2}`).listen()
    servers.push(s)
    started.push(s)
  }
  return started
}

function clientFor(
  pods: TestServer[],
  options: HttpOptions = {},
): { client: HeadlessClient<FakePool>; pool: FakePool } {
  const pool = new FakePool(
    'web.test',
    pods.map((p) => endpoint(p.name, p.address, p.port)),
  )
  const client = createClient({ origin: 'http://web.test:8080', pool, retry: { minTimeout: 1 }, ...options })
  clients.push(client)
  return { client, pool }
}

describe('hedged requests', () => {
  it('a GET with no answer after the delay also goes to another pod; the first answer wins and the other attempt is cancelled', async () => {
    const pods = await start(2)
    const slow = new HeldPod()
    pods[0]!.behaviour = slow.behaviour
    const { client, pool } = clientFor(pods, { hedge: { delay: 20 } })
    const hedges: HedgeEvent[] = []
    client.on('hedge', (e) => hedges.push(e))
    const res = await client.request('/x')
    expect(res.statusCode).toBe(200)
    expect(await res.body.text()).toBe('web-1')
    expect(pods.map((p) => p.count())).toEqual([1, 1])
    // The loser may still answer for 10 x the delay (at least 100 ms); web-0 does not, so it is
    // then aborted (its socket closes) and released as cancelled: not web-0's fault, but with the
    // time it waited as a censored latency (web-0 took at least that long).
    expect(client.dispatcher.lingering.size).toBe(1)
    await until('the slow attempt to be abandoned', () => slow.abandoned === 1)
    await until('both leases released', () => pool.released.length === 2)
    expect(client.dispatcher.lingering.size).toBe(0)
    const loser = pool.released.find((r) => r.endpoint.name === 'web-0')
    expect(loser?.outcome).toMatchObject({ ok: false, kind: 'cancelled', censored: true })
    expect((loser!.outcome as { latency: number }).latency).toBeGreaterThanOrEqual(200)
    expect(pool.released.find((r) => r.endpoint.name === 'web-1')?.outcome.ok).toBe(true)
    expect(pool.acquired[1]?.options?.exclude).toEqual([pool.endpoints[0]!.id])
    expect(client.stats()).toMatchObject({
      requests: 1,
      attempts: 2,
      hedges: 1,
      hedgesWon: 1,
      hedgesDenied: 0,
    })
    expect(hedges).toHaveLength(1)
    expect(hedges[0]).toMatchObject({ service: 'web.test', attempt: 2, delay: 20 })
    expect(hedges[0]!.endpoint.name).toBe('web-1')
    expect(hedges[0]!.outstanding.map((e) => e.name)).toEqual(['web-0'])
  })

  it('a loser that answers while it lingers gives the pool its real latency, and the caller nothing', async () => {
    const pods = await start(2)
    const slow = new HeldPod()
    pods[0]!.behaviour = slow.behaviour
    const { client, pool } = clientFor(pods, { hedge: { delay: 20 } })
    const res = await client.request('/x')
    expect(await res.body.text()).toBe('web-1')
    // web-0 answers now, within its linger time (200 ms: 10 x the delay).
    expect(client.dispatcher.lingering.size).toBe(1)
    slow.release()
    await until('both leases released', () => pool.released.length === 2)
    const loser = pool.released.find((r) => r.endpoint.name === 'web-0')
    expect(loser?.outcome.ok).toBe(true)
    expect((loser!.outcome as { latency: number }).latency).toBeGreaterThanOrEqual(20)
    expect(slow.abandoned).toBe(0)
    expect(client.dispatcher.lingering.size).toBe(0)
    expect(client.stats()).toMatchObject({ requests: 1, attempts: 2, hedges: 1, hedgesWon: 1, failures: 0 })
  })

  it('close() aborts a lingering loser at once instead of waiting out its linger time', async () => {
    const pods = await start(2)
    const slow = new HeldPod()
    pods[0]!.behaviour = slow.behaviour
    // A 1 s delay: the loser could linger 10 s.
    const { client, pool } = clientFor(pods, { hedge: { delay: 1_000 } })
    await (await client.request('/x')).body.dump()
    expect(client.dispatcher.lingering.size).toBe(1)
    await client.close()
    expect(client.dispatcher.lingering.size).toBe(0)
    expect(pool.released).toHaveLength(2)
    const loser = pool.released.find((r) => r.endpoint.name === 'web-0')
    expect(loser?.outcome).toMatchObject({ ok: false, kind: 'cancelled', censored: true })
    // It waited the delay and the winner's answer, not a tenth of its 10 s linger time more.
    expect((loser!.outcome as { latency: number }).latency / 10_000).toBeLessThan(0.2)
    await until('the slow attempt to be abandoned', () => slow.abandoned === 1)
  })

  it('delivers exactly one response to the handler when both attempts answer', async () => {
    const pods = await start(2)
    const slow = new HeldPod()
    pods[0]!.behaviour = slow.behaviour
    const { client } = clientFor(pods, { hedge: { delay: 10 } })
    const calls: string[] = []
    let body = ''
    const done = new Promise<void>((resolve, reject) => {
      client.dispatcher.dispatch({ origin: client.origin, path: '/x', method: 'GET' }, {
        onRequestStart() {},
        onResponseStart(_c, statusCode, headers) {
          calls.push(`start ${statusCode} ${headers['x-pod']}`)
          // The winner's headers are in: now let the slow pod answer too.
          slow.release()
        },
        onResponseData(_c, chunk) {
          body += chunk.toString()
        },
        onResponseEnd() {
          calls.push('end')
          resolve()
        },
        onResponseError(_c, error) {
          reject(error)
        },
      } satisfies Dispatcher.DispatchHandler)
    })
    await done
    await until('the slow pod to have been asked', () => slow.held.length === 0 && pods[0]!.count() === 1)
    expect(calls).toEqual(['start 200 web-1', 'end'])
    expect(body).toBe('web-1')
  })

  it('on pipelined connections, a hedge abandoned while queued is never written: every caller gets one response, and its end', async () => {
    // Hedges sent at once (delay 0) over two pipelined connections per pod: the loser of each race
    // is often still queued behind other requests when it is abandoned. It used to be aborted from
    // onRequestStart, which on undici 8.13 desynchronised the pipeline: later responses went to the
    // wrong requests (two or three response heads for one), and some callers' bodies never ended.
    const pods = await start(2)
    const { client } = clientFor(pods, { hedge: { delay: 0 }, connections: 2, pipelining: 10 })
    const starts: number[] = []
    const one = (i: number) =>
      new Promise<void>((resolve, reject) => {
        starts[i] = 0
        client.dispatcher.dispatch({ origin: client.origin, path: `/r${i}`, method: 'GET' }, {
          onRequestStart() {},
          onResponseStart() {
            starts[i]!++
          },
          onResponseData() {},
          onResponseEnd: () => resolve(),
          onResponseError: (_c, error) => reject(error),
        } satisfies Dispatcher.DispatchHandler)
      })
    let ended = 0
    const all = Promise.all(Array.from({ length: 400 }, (_, i) => one(i).then(() => ended++)))
    await until('every request to end', () => ended === 400, 10_000)
    await all
    expect(starts.filter((n) => n !== 1)).toEqual([])
    expect(client.stats().hedges).toBeGreaterThan(0)
    // Some losers were refused before undici wrote them: the pods saw fewer requests than attempts.
    await client.close()
    expect(pods[0]!.count() + pods[1]!.count()).toBeLessThan(client.stats().attempts)
  })

  it("the caller's pause and resume reach the attempt that wins, whichever attempt they were made during", async () => {
    const pods = await start(2)
    const first = new HeldPod()
    const hedge = new HeldPod()
    pods[0]!.behaviour = first.behaviour
    pods[1]!.behaviour = hedge.behaviour
    const { client } = clientFor(pods, { hedge: { delay: 10 } })
    let controller: Dispatcher.DispatchController | undefined
    const calls: string[] = []
    const done = new Promise<void>((resolve, reject) => {
      client.dispatcher.dispatch({ origin: client.origin, path: '/x', method: 'GET' }, {
        onRequestStart(c) {
          controller = c
          // Paused before the first attempt is sent: that attempt starts paused.
          c.pause()
        },
        onResponseStart(_c, statusCode) {
          calls.push(`start ${statusCode}`)
        },
        onResponseData(_c, chunk) {
          calls.push(`data ${chunk.toString()}`)
        },
        onResponseEnd() {
          calls.push('end')
          resolve()
        },
        onResponseError(_c, error) {
          reject(error)
        },
      } satisfies Dispatcher.DispatchHandler)
    })
    await until('the hedge to be sent', () => hedge.held.length === 1)
    // Resumed while the hedge is the latest attempt; then the first attempt answers and wins.
    controller!.resume()
    first.release()
    await done
    expect(calls).toEqual(['start 200', 'data web-0', 'end'])
    hedge.release()
  })

  it('never hedges a POST (nor a one-shot body)', async () => {
    const pods = await start(2)
    const slow = new HeldPod()
    pods[0]!.behaviour = slow.behaviour
    const { client } = clientFor(pods, { hedge: { delay: 0 } })
    const post = client.request('/orders', { method: 'POST', body: 'order' })
    // A zero delay fires at the next turn of the event loop, long before the POST has crossed a
    // socket: a hedge would be on its way to web-1 by then.
    await until('the POST to reach web-0', () => slow.held.length === 1)
    slow.release()
    const res = await post
    expect(await res.body.text()).toBe('web-0')
    expect(pods[1]!.count()).toBe(0)
    async function* oneShot() {
      yield 'doc'
    }
    pods[1]!.behaviour = slow.behaviour
    const put = client.request('/doc', { method: 'PUT', body: oneShot() as never })
    await until('the PUT to reach web-1', () => slow.held.length === 1)
    slow.release()
    await (await put).body.dump()
    expect(pods[0]!.count() + pods[1]!.count()).toBe(2)
    expect(client.stats()).toMatchObject({ hedges: 0, attempts: 2 })
  })

  it('a caller abort cancels every attempt of the race', async () => {
    const pods = await start(2)
    const held = [new HeldPod(), new HeldPod()]
    pods[0]!.behaviour = held[0]!.behaviour
    pods[1]!.behaviour = held[1]!.behaviour
    const { client, pool } = clientFor(pods, { hedge: { delay: 0 } })
    const controller = new AbortController()
    const request = client.request('/x', { signal: controller.signal }).catch((e: unknown) => e)
    await until('both attempts to reach their pods', () => held.every((h) => h.held.length === 1))
    controller.abort(new Error('caller gave up'))
    expect(await request).toBeInstanceOf(DeadlineExceededError)
    await until('both attempts abandoned', () => held.every((h) => h.abandoned === 1))
    await until('both leases released', () => pool.released.length === 2)
    expect(pool.released.every((r) => !r.outcome.ok && r.outcome.kind === 'cancelled')).toBe(true)
    // The caller giving up says nothing about how fast the pods are: no censored latency.
    expect(pool.released.some((r) => !r.outcome.ok && r.outcome.censored === true)).toBe(false)
  })

  it('destroy() during a race ends the request and cancels both attempts', async () => {
    const pods = await start(2)
    const held = [new HeldPod(), new HeldPod()]
    pods[0]!.behaviour = held[0]!.behaviour
    pods[1]!.behaviour = held[1]!.behaviour
    const { client, pool } = clientFor(pods, { hedge: { delay: 0 } })
    const request = client.request('/x').catch((e: unknown) => e)
    await until('both attempts to reach their pods', () => held.every((h) => h.held.length === 1))
    await client.destroy(new Error('shutting down'))
    expect(await request).toMatchObject({ message: 'shutting down' })
    await until('both attempts abandoned', () => held.every((h) => h.abandoned === 1))
    expect(pool.released).toHaveLength(2)
    expect(pool.released.every((r) => !r.outcome.ok && r.outcome.kind === 'cancelled')).toBe(true)
  })

  it('a hedge is a retry for the budget: a spent budget sends none', async () => {
    const pods = await start(2)
    const slow = new HeldPod()
    pods[0]!.behaviour = slow.behaviour
    const { client } = clientFor(pods, {
      hedge: { delay: 0 },
      retry: { budget: { ratio: 0, minPerSecond: 0 } },
    })
    const request = client.request('/x')
    await until('the hedge to be denied', () => client.stats().hedgesDenied === 1)
    slow.release()
    expect(await (await request).body.text()).toBe('web-0')
    expect(client.stats()).toMatchObject({ hedges: 0, hedgesDenied: 1, attempts: 1 })
    expect(pods[1]!.count()).toBe(0)
  })

  it('a retryable status from one attempt waits for the other instead of answering', async () => {
    const pods = await start(2)
    const slow = new HeldPod()
    pods[0]!.behaviour = slow.behaviour
    pods[1]!.behaviour = (req, res) => {
      req.resume()
      res.statusCode = 503
      res.end('busy')
    }
    const { client, pool } = clientFor(pods, { hedge: { delay: 0 } })
    const request = client.request('/x')
    await until('the hedge to fail', () => pool.released.some((r) => r.endpoint.name === 'web-1'))
    slow.release()
    const res = await request
    expect(res.statusCode).toBe(200)
    expect(await res.body.text()).toBe('web-0')
    expect(client.stats()).toMatchObject({ hedges: 1, hedgesWon: 0, retries: 0 })
  })

  it('sends at most maxAttempts in all, each to a pod not tried yet', async () => {
    const pods = await start(3)
    const held = [new HeldPod(), new HeldPod()]
    // The fake pool goes round the endpoints left: the first hedge gets web-2, the second web-1.
    pods[0]!.behaviour = held[0]!.behaviour
    pods[2]!.behaviour = held[1]!.behaviour
    const { client, pool } = clientFor(pods, { hedge: { delay: 5, maxAttempts: 3 } })
    const res = await client.request('/x')
    expect(await res.body.text()).toBe('web-1')
    expect(pods.map((p) => p.count())).toEqual([1, 1, 1])
    expect(pool.acquired[2]?.options?.exclude).toEqual([pool.endpoints[0]!.id, pool.endpoints[2]!.id])
    expect(client.stats()).toMatchObject({ attempts: 3, hedges: 2, hedgesWon: 1 })
    await until('both losers abandoned', () => held.every((h) => h.abandoned === 1))
  })

  it('a percentile delay waits for enough latencies, then hedges past it', async () => {
    const pods = await start(2)
    const { client } = clientFor(pods, { hedge: { delay: 'p50' } })
    // p50 needs 20 latencies first: until then nothing is hedged, however slow.
    for (let i = 0; i < 20; i++) await (await client.request('/x')).body.dump()
    expect(client.stats().hedges).toBe(0)
    const slow = new HeldPod()
    pods[0]!.behaviour = slow.behaviour
    pods[1]!.behaviour = slow.behaviour
    const request = client.request('/x')
    // The held request is past any measured p50: a hedge goes to the other pod (also held).
    await until('a hedge', () => client.stats().hedges === 1)
    slow.release()
    await (await request).body.dump()
    slow.release()
    expect(client.stats().hedges).toBe(1)
  })

  it('leaves no request waiting for a hedge once it is answered, failed or aborted, and no timer after close()', async () => {
    const pods = await start(2)
    const { client } = clientFor(pods, { hedge: { delay: 60_000 } })
    const timers = client.dispatcher.hedgeTimers!
    await (await client.request('/x')).body.dump()
    expect(timers.size).toBe(0)
    const controller = new AbortController()
    const aborted = client.request('/x', { signal: controller.signal }).catch((e: unknown) => e)
    expect(timers.size).toBe(1)
    controller.abort()
    await aborted
    expect(timers.size).toBe(0)
    pods[0]!.behaviour = (req) => req.socket.destroy()
    pods[1]!.behaviour = (req) => req.socket.destroy()
    await client.request('/x').catch(() => undefined)
    expect(timers.size).toBe(0)
    // One timer for all the requests, armed by the first: close() clears it.
    expect(timers.armed).toBe(true)
    await client.close()
    expect(timers.armed).toBe(false)
  })

  it('rejects invalid hedge options, naming the option', () => {
    const pool = new FakePool('web.test', [])
    const make = (hedge: unknown) =>
      createClient({ origin: 'http://web.test', pool, hedge: hedge as boolean })
    expect(() => make('yes')).toThrow(/^hedge must be true, false or an object/)
    expect(() => make({ maxAttempts: 6 })).toThrow(RangeError)
    expect(() => make({ maxAttempts: 6 })).toThrow(/hedge\.maxAttempts must be an integer from 2 to 5, got 6/)
    expect(() => make({ delay: 'p100' })).toThrow(
      /hedge\.delay must be a number of milliseconds or a percentile/,
    )
    expect(() => make({ delay: -5 })).toThrow(/hedge\.delay must be a finite number of milliseconds >= 0/)
    expect(() => make({ delay: 50, minDelay: 5 })).toThrow(
      /hedge\.minDelay must be absent with a fixed delay/,
    )
    expect(() => make({ dealy: 50 })).toThrow(/hedge\.dealy must be a known option/)
    expect(() => new HeadlessAgent({ services: { 'web.test': { hedge: { maxAttempts: 1 } } } })).toThrow(
      /^services\["web\.test"\]\.hedge\.maxAttempts/,
    )
    expect(() => new HeadlessAgent({ services: {}, hedge: 'p95' as never })).toThrow(/^hedge must be/)
  })
})
