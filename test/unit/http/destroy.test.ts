import { afterEach, describe, expect, it } from 'vitest'
import { DestroyedError } from '../../../src/errors.js'
import { createClient } from '../../../src/http/create-client.js'
import { HeadlessAgent } from '../../../src/http/headless-agent.js'
import type { HeadlessClient } from '../../../src/http/headless-client.js'
import { until } from '../../support/until.js'
import { endpoint, FakePool } from './fake-pool.js'
import { type Behaviour, TestServer } from './test-servers.js'

// destroy() settles everything in flight at once (issue 12, item 6); close() waits for it.

const servers: TestServer[] = []
const closers: Array<{ destroy(): Promise<void> }> = []

afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c.destroy()))
  await Promise.all(servers.splice(0).map((s) => s.close()))
})

/** Accepts the request and never answers. */
const hung: Behaviour = (req) => {
  req.resume()
}

/** Answers 200 at once, then drips one byte of body every 50 ms, forever. */
const slowDrip: Behaviour = (req, res) => {
  req.resume()
  res.writeHead(200, { 'content-type': 'text/plain' })
  res.write('x')
  const timer = setInterval(() => res.write('x'), 50)
  res.on('close', () => clearInterval(timer))
}

/** 503 asking for a retry in 1 s. */
const busy: Behaviour = (req, res) => {
  req.resume()
  res.writeHead(503, { 'retry-after': '1' })
  res.end()
}

async function pod(name: string, address: string, behaviour: Behaviour): Promise<TestServer> {
  const s = await new TestServer(name, address, behaviour).listen()
  servers.push(s)
  return s
}

function clientOf(pods: TestServer[], ready?: Promise<void>): HeadlessClient<FakePool> {
  const pool = new FakePool(
    'web.test',
    pods.map((p) => endpoint(p.name, p.address, p.port)),
    ready,
  )
  const client = createClient({
    origin: 'http://web.test:8080',
    pool,
    retry: { minTimeout: 1, maxTimeout: 5 },
  })
  closers.push(client)
  return client
}

/** The promise's outcome, readable synchronously once it settled. */
function track<T>(promise: Promise<T>): { settled: boolean; error: unknown } {
  const state = { settled: false, error: undefined as unknown }
  promise.then(
    () => {
      state.settled = true
    },
    (error: unknown) => {
      state.settled = true
      state.error = error
    },
  )
  return state
}

function timers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
}

describe('client.destroy()', () => {
  it('ends a request on a hung pod, a slow-drip body, a Retry-After wait and a wait for the pool, all at once', async () => {
    const baseline = timers()
    const hungPod = await pod('web-0', '127.0.0.2', hung)
    const dripPod = await pod('web-1', '127.0.0.3', slowDrip)
    const busyPods = [await pod('web-2', '127.0.0.4', busy), await pod('web-3', '127.0.0.5', busy)]
    const onHung = clientOf([hungPod])
    const onDrip = clientOf([dripPod])
    const onBusy = clientOf(busyPods)
    const notReady = clientOf([hungPod], new Promise<void>(() => {}))

    const hungRequest = track(onHung.request('/'))
    const response = await onDrip.request('/')
    expect(response.statusCode).toBe(200)
    const body = track(response.body.text())
    const retried = new Promise<void>((resolve) => onBusy.on('retry', () => resolve()))
    const busyRequest = track(onBusy.request('/'))
    const waiting = track(notReady.request('/'))
    await until('the hung pod to get its request', () => hungPod.count() === 1)
    await retried

    await Promise.all([onHung.destroy(), onDrip.destroy(), onBusy.destroy(), notReady.destroy()])
    // Settled by the time destroy() resolves: nothing waited for a timeout.
    await Promise.resolve()
    for (const state of [hungRequest, body, busyRequest, waiting]) {
      expect(state.settled).toBe(true)
      expect(state.error).toBeInstanceOf(DestroyedError)
    }
    expect((hungRequest.error as DestroyedError).code).toBe('HLB_ERR_DESTROYED')
    expect((hungRequest.error as DestroyedError).service).toBe('web.test')
    expect(busyPods[0]!.count() + busyPods[1]!.count()).toBe(1) // the retry never went out
    await until('the pods to see their connections close', () =>
      [hungPod, dripPod, ...busyPods].every((p) => p.sockets.size === 0),
    )
    expect(timers()).toBeLessThanOrEqual(baseline)
  })

  it('ends requests with the error given, and later requests fail with ClosedError', async () => {
    const client = clientOf([await pod('web-0', '127.0.0.2', hung)])
    const request = client.request('/').catch((e: unknown) => e)
    await until('the request to be sent', () => servers[0]!.count() === 1)
    const mine = new Error('shutting down')
    await client.destroy(mine)
    expect(await request).toBe(mine)
    await expect(client.request('/')).rejects.toMatchObject({ code: 'HLB_ERR_CLOSED' })
  })

  it('is idempotent; close() after destroy() and destroy() during close() both resolve', async () => {
    const a = clientOf([await pod('web-0', '127.0.0.2', hung)])
    const first = a.request('/').catch((e: unknown) => e)
    await until('the request to be sent', () => servers[0]!.count() === 1)
    const closing = track(a.close())
    // close() waits for the hung request (it would wait for ever: the pod never answers)...
    await new Promise((resolve) => setImmediate(resolve))
    expect(closing.settled).toBe(false)
    // ...destroy() ends it, and close() resolves with it.
    await Promise.all([a.destroy(), a.destroy()])
    expect(await first).toBeInstanceOf(DestroyedError)
    await until('close() to resolve', () => closing.settled)
    expect(closing.error).toBeUndefined()
    await a.close()
    await a.destroy()
  })
})

describe('HeadlessAgent#destroy()', () => {
  it('ends in-flight requests of every balanced service at once', async () => {
    const hungPod = await pod('web-0', '127.0.0.2', hung)
    const pool = new FakePool('web.test', [endpoint('web-0', hungPod.address, hungPod.port)])
    const agent = new HeadlessAgent({ services: { 'web.test': { pool } } })
    closers.push(agent)
    const request = track(agent.request({ origin: 'http://web.test:8080', path: '/', method: 'GET' }))
    await until('the hung pod to get its request', () => hungPod.count() === 1)
    await agent.destroy()
    await Promise.resolve()
    expect(request.settled).toBe(true)
    expect(request.error).toBeInstanceOf(DestroyedError)
    await until('the pod to see its connection close', () => hungPod.sockets.size === 0)
    await agent.close()
  })
})
