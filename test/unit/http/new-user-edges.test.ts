import { afterEach, describe, expect, it } from 'vitest'
import { DeadlineExceededError } from '../../../src/errors.js'
import { createClient } from '../../../src/http/create-client.js'
import { HeadlessAgent } from '../../../src/http/headless-agent.js'
import type { HeadlessClient } from '../../../src/http/headless-client.js'
import { endpoint, FakePool } from './fake-pool.js'
import { type Behaviour, TestServer } from './test-servers.js'

// Bugs found by using the client as a new user would (issue 12, item 8), each pinned by a test.

const servers: TestServer[] = []
const closers: Array<{ close(): Promise<void> }> = []

afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c.close()))
  await Promise.all(servers.splice(0).map((s) => s.close()))
})

async function start(n: number, behaviour?: Behaviour): Promise<TestServer[]> {
  const started: TestServer[] = []
  for (let i = 0; i < n; i++) {
    const s = await new TestServer(`web-${i}`, `127.0.0.${i + 2}`, behaviour).listen()
    servers.push(s)
    started.push(s)
  }
  return started
}

function clientFor(pods: TestServer[]): HeadlessClient<FakePool> {
  const pool = new FakePool(
    'web.test',
    pods.map((p) => endpoint(p.name, p.address, p.port)),
  )
  const client = createClient({
    origin: 'http://web.test:8080',
    pool,
    retry: { minTimeout: 1, maxTimeout: 5 },
  })
  closers.push(client)
  return client
}

describe('requests a new user gets wrong', () => {
  it('an absolute URL as the path of request() is refused, not sent to a pod in absolute form', async () => {
    const [pod] = await start(1)
    const client = clientFor([pod!])
    await expect(client.request('http://169.254.169.254/latest/meta-data')).rejects.toThrow(
      /path must be a path starting with "\/"/,
    )
    await expect(client.request('http://169.254.169.254/x')).rejects.toBeInstanceOf(TypeError)
    // Through the dispatcher directly, as undici's own request API would pass it.
    await expect(
      client.dispatcher.request({ origin: client.origin, path: 'http://169.254.169.254/x', method: 'GET' }),
    ).rejects.toThrow(/path must be/)
    expect(pod!.count()).toBe(0)
    const ok = await client.request('/x')
    expect(ok.statusCode).toBe(200)
    await ok.body.dump()
  })

  it('a lower-case well-known method is sent upper-case, as fetch normalizes it', async () => {
    const [pod] = await start(1)
    const client = clientFor([pod!])
    for (const method of ['get', 'post', 'put', 'delete', 'head', 'options']) {
      const res = await client.request('/x', {
        method: method as never,
        body: method === 'get' || method === 'head' ? null : 'x',
      })
      expect(res.statusCode).toBe(200)
      await res.body.dump()
    }
    expect(pod!.requests.map((r) => r.method)).toEqual(['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS'])
  })

  it('an already-aborted signal fails with the same DeadlineExceededError as an abort in flight', async () => {
    const [pod] = await start(1, () => {
      // Never answers: the request is aborted in flight.
    })
    const client = clientFor([pod!])
    const before = await client.request('/x', { signal: AbortSignal.abort() }).catch((e: unknown) => e)
    expect(before).toBeInstanceOf(DeadlineExceededError)
    expect((before as DeadlineExceededError).cause).toBeInstanceOf(DOMException)
    const controller = new AbortController()
    const during = client.request('/x', { signal: controller.signal }).catch((e: unknown) => e)
    await new Promise((resolve) => setTimeout(resolve, 0))
    controller.abort()
    const inFlight = await during
    expect(inFlight).toBeInstanceOf(DeadlineExceededError)
    expect((before as Error).constructor).toBe((inFlight as Error).constructor)
  })

  it('a 503 with Retry-After and no other endpoint is returned at once, not after the delay', async () => {
    const [pod] = await start(1, (req, res) => {
      req.resume()
      res.writeHead(503, { 'retry-after': '1' })
      res.end('busy')
    })
    const client = clientFor([pod!])
    const retries: unknown[] = []
    client.on('retry', (event) => retries.push(event))
    const began = performance.now()
    const res = await client.request('/x')
    const took = performance.now() - began
    expect(res.statusCode).toBe(503)
    expect(await res.body.text()).toBe('busy')
    expect(retries).toEqual([])
    expect(pod!.count()).toBe(1)
    // The Retry-After is 1 s; a returned-at-once answer is far below it (a ratio of the delay
    // asked for, not a wall-clock budget for the machine).
    expect(took).toBeLessThan(1_000 / 2)
  })
})

describe('options accepted and then ignored, or failing only later', () => {
  const pool = () => new FakePool('web.test', [])

  it('createClient({ service }) is refused: the origin names the service', () => {
    expect(() => createClient({ origin: 'http://web.test', service: 'other' } as never)).toThrow(
      /^service must be absent: the host of origin names the service/,
    )
    expect(() => createClient({ origin: 'http://web.test', service: 'other' } as never)).toThrow(TypeError)
  })

  it('tls on an http: origin is refused', () => {
    expect(() =>
      createClient({ origin: 'http://web.test', pool: pool(), tls: { rejectUnauthorized: false } }),
    ).toThrow(/tls .*https:/)
    expect(() =>
      createClient({ origin: 'https://web.test', pool: pool(), tls: { rejectUnauthorized: false } }),
    ).not.toThrow()
  })

  it('routeByMethod: true or readPreference without a primary option is refused', () => {
    expect(() => createClient({ origin: 'http://web.test', routeByMethod: true })).toThrow(
      /routeByMethod .*primary/,
    )
    expect(() => createClient({ origin: 'http://web.test', readPreference: 'replica' })).toThrow(
      /readPreference .*primary/,
    )
    expect(() => new HeadlessAgent({ services: { 'web.test': { routeByMethod: true } } })).toThrow(
      /^services\["web.test"\].routeByMethod .*primary/,
    )
    expect(() => new HeadlessAgent({ routeByMethod: true, services: { 'web.test': {} } })).toThrow(
      /routeByMethod .*primary/,
    )
    // With a primary, or with a pool made elsewhere (which may know its primary), it stays allowed.
    const withPrimary = createClient({
      origin: 'http://web.test',
      portName: 'http',
      // Never answered (nothing listens there): the test needs the client made, not resolved.
      dns: { servers: ['127.0.0.1:9'] },
      primary: { ordinal: 0 },
      routeByMethod: true,
      readPreference: 'replica',
    })
    closers.push(withPrimary)
    const given = createClient({ origin: 'http://web.test', pool: pool(), routeByMethod: true })
    closers.push(given)
  })

  it('HeadlessAgent passThrough must be an object of valid undici Agent options', () => {
    for (const value of [5, 'yes', true, null, []]) {
      expect(() => new HeadlessAgent({ services: {}, passThrough: value as never })).toThrow(
        /^passThrough must be an object/,
      )
    }
    expect(() => new HeadlessAgent({ services: {}, passThrough: { connections: -1 } })).toThrow(
      /^passThrough.connections must be/,
    )
    expect(() => new HeadlessAgent({ services: {}, passThrough: { connections: -1 } })).toThrow(RangeError)
    expect(
      () => new HeadlessAgent({ services: {}, passThrough: { keepAliveTimeout: 'x' as never } }),
    ).toThrow(/^passThrough.keepAliveTimeout must be/)
    let refused: unknown
    try {
      new HeadlessAgent({ services: {}, passThrough: { maxHeaderSize: -1 } })
    } catch (error) {
      refused = error
    }
    expect(refused).toMatchObject({ code: 'HLB_ERR_INVALID_OPTION', path: 'passThrough' })
    expect((refused as Error).message).toMatch(
      /^passThrough must be options undici accepts, got \{"maxHeaderSize":-1\}\. undici says: /,
    )
    expect((refused as Error).cause).toBeInstanceOf(Error)
    const agent = new HeadlessAgent({
      services: {},
      passThrough: { connections: 4, keepAliveTimeout: 1_000 },
    })
    closers.push(agent)
  })

  it('CR or LF in healthCheck.http.host or path is refused', () => {
    for (const http of [{ host: 'web\r\nx-evil: 1' }, { path: '/healthz\nx' }, { host: 'a\rb' }]) {
      expect(() =>
        createClient({
          origin: 'http://web.test',
          addresses: ['127.0.0.2:80'],
          healthCheck: { http },
        } as never),
      ).toThrow(/healthCheck.http.(host|path) must be/)
    }
  })
})
