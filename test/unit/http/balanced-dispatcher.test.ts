import { FormData, request as undiciRequest } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import {
  DeadlineExceededError,
  NoEndpointsError,
  RequestFailedError,
  RetryBudgetExhaustedError,
} from '../../../src/errors.js'
import type { RetryEvent } from '../../../src/http/balanced-dispatcher.js'
import type { HttpOptions } from '../../../src/http/client-options.js'
import { createClient } from '../../../src/http/create-client.js'
import type { HeadlessClient } from '../../../src/http/headless-client.js'
import { until } from '../../support/until.js'
import { endpoint, FakePool } from './fake-pool.js'
import { type Behaviour, TestServer } from './test-servers.js'

const servers: TestServer[] = []
const clients: Array<{ close(): Promise<void> }> = []

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
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

function clientFor(
  pods: TestServer[],
  options: HttpOptions = {},
): { client: HeadlessClient<FakePool>; pool: FakePool } {
  const pool = new FakePool(
    'web.test',
    pods.map((p) => endpoint(p.name, p.address, p.port)),
  )
  const client = createClient({
    origin: 'http://web.test:8080',
    pool,
    retry: { minTimeout: 1, maxTimeout: 5 },
    ...options,
  })
  clients.push(client)
  return { client, pool }
}

/** A port on 127.0.0.9 where nothing listens: connects are refused. */
async function refusedEndpoint(name: string) {
  const s = await new TestServer(name, '127.0.0.9').listen()
  const port = s.port
  await s.close()
  return endpoint(name, '127.0.0.9', port)
}

describe('BalancedDispatcher', () => {
  it('sends each request to the next endpoint, over keep-alive connections, with the service name as Host', async () => {
    const pods = await start(3)
    const { client, pool } = clientFor(pods)
    for (let i = 0; i < 30; i++) {
      const res = await client.request('/x')
      expect(res.statusCode).toBe(200)
      await res.body.text()
    }
    expect(pods.map((p) => p.count())).toEqual([10, 10, 10])
    expect(new Set(pods.flatMap((p) => p.requests.map((r) => r.host)))).toEqual(new Set(['web.test:8080']))
    // Keep-alive: one connection per pod for sequential requests.
    expect(pods.map((p) => p.sockets.size)).toEqual([1, 1, 1])
    expect(pool.released).toHaveLength(30)
    expect(pool.released.every((r) => r.outcome.ok && typeof r.outcome.latency === 'number')).toBe(true)
    expect(client.stats()).toMatchObject({ requests: 30, attempts: 30, retries: 0, failures: 0 })
  })

  it('retries a refused connect on another endpoint, for any method, and tells the pool why', async () => {
    const [pod] = await start(1)
    const dead = await refusedEndpoint('web-9')
    const pool = new FakePool('web.test', [dead, endpoint('web-0', pod!.address, pod!.port)])
    const client = createClient({ origin: 'http://web.test', pool, retry: { minTimeout: 1 } })
    clients.push(client)
    const retries: RetryEvent[] = []
    client.on('retry', (e) => retries.push(e))
    const res = await client.request('/orders', { method: 'POST', body: 'order' })
    expect(res.statusCode).toBe(200)
    expect(await res.body.text()).toBe('web-0')
    expect(pod!.count('POST')).toBe(1)
    expect(retries).toHaveLength(1)
    expect(retries[0]).toMatchObject({ service: 'web.test', kind: 'connect-refused', attempt: 1 })
    expect(retries[0]!.endpoint.id).toBe(dead.id)
    // The payload is what docs/http.md lists; where the retry goes is the next `attempt` event.
    expect(Object.keys(retries[0]!).sort()).toEqual([
      'attempt',
      'endpoint',
      'error',
      'kind',
      'retryAfter',
      'service',
    ])
    // @ts-expect-error the retry event does not name the next endpoint (it is not picked yet)
    void retries[0]!.next
    const refused = pool.released.find((r) => r.endpoint.id === dead.id)
    expect(refused?.outcome).toMatchObject({ ok: false, kind: 'connect-refused' })
    expect(pool.acquired[1]?.options?.exclude).toEqual([dead.id])
  })

  it('never sends a POST twice once it may have reached a server, and says why', async () => {
    const pods = await start(2, (req) => req.socket.destroy())
    const { client } = clientFor(pods)
    const error = await client.request('/orders', { method: 'POST', body: 'x' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(RequestFailedError)
    const failed = error as RequestFailedError
    expect(failed.service).toBe('web.test')
    expect(failed.message).toMatch(/reset.*not idempotent/)
    expect(failed.cause).toMatchObject({ code: 'UND_ERR_SOCKET' })
    expect(pods[0]!.count() + pods[1]!.count()).toBe(1)
  })

  it('retries a GET after a reset on another endpoint', async () => {
    const pods = await start(2)
    pods[0]!.behaviour = (req) => req.socket.destroy()
    const { client } = clientFor(pods)
    const res = await client.request('/x')
    expect(await res.body.text()).toBe('web-1')
    expect(pods[0]!.count()).toBe(1)
  })

  it('never replays a one-shot (generator) body: a PUT that may have been sent is not retried with it empty', async () => {
    const received: string[] = []
    const pods = await start(2, (req, res) => {
      let body = ''
      req.setEncoding('utf8').on('data', (c: string) => {
        body += c
      })
      req.on('end', () => {
        received.push(body)
        res.end('stored')
      })
    })
    pods[0]!.behaviour = (req) => {
      req.resume()
      req.on('end', () => req.socket.destroy())
    }
    const { client } = clientFor(pods)
    function* chunks() {
      yield 'the whole '
      yield 'document'
    }
    const result = await client
      .request('/doc', { method: 'PUT', body: chunks() as never })
      .then((res) => res.body.text())
      .catch((e: unknown) => e)
    expect(result).toBeInstanceOf(RequestFailedError)
    expect(received).toEqual([]) // web-1 never got an empty PUT
    expect(pods[1]!.count()).toBe(0)
  })

  it('replays bodies that can be read again (an array of chunks, FormData) when retrying a PUT', async () => {
    const form = new FormData()
    form.set('field', 'form value')
    const received: string[] = []
    for (const body of [[Buffer.from('array '), Buffer.from('of chunks')], form]) {
      const pods = await start(2, (req, res) => {
        let text = ''
        req.setEncoding('utf8').on('data', (c: string) => {
          text += c
        })
        req.on('end', () => {
          received.push(text)
          res.end('stored')
        })
      })
      pods[0]!.behaviour = (req) => {
        req.resume()
        req.on('end', () => req.socket.destroy())
      }
      const { client } = clientFor(pods) // a fresh fake pool starts at web-0, which resets
      const res = await client.request('/doc', { method: 'PUT', body: body as never })
      expect(await res.body.text()).toBe('stored')
      expect(pods[0]!.count()).toBe(1)
    }
    expect(received[0]).toBe('array of chunks')
    expect(received[1]).toContain('form value')
  })

  it('retries 503 for idempotent methods on another endpoint, but returns it to a POST', async () => {
    const pods = await start(2)
    pods[0]!.behaviour = (req, res) => {
      req.resume()
      res.statusCode = 503
      res.end('busy')
    }
    const { client, pool } = clientFor(pods)
    const get = await client.request('/x')
    expect(get.statusCode).toBe(200)
    expect(await get.body.text()).toBe('web-1')
    const status = pool.released.find((r) => r.endpoint.name === 'web-0')
    expect(status?.outcome).toMatchObject({ ok: false, kind: 'status' })

    const post = await client.request('/x', { method: 'POST', body: 'b' }) // round robin: web-0 now
    expect(post.statusCode).toBe(503)
    expect(await post.body.text()).toBe('busy')
  })

  it('returns the last retryable response when no other endpoint is left', async () => {
    const pods = await start(2, (req, res) => {
      req.resume()
      res.statusCode = 503
      res.setHeader('x-pod', 'any')
      res.end('all busy')
    })
    const { client } = clientFor(pods, { retry: { retries: 5, minTimeout: 1, maxTimeout: 2 } })
    const res = await client.request('/x')
    expect(res.statusCode).toBe(503)
    expect(await res.body.text()).toBe('all busy')
    expect(pods[0]!.count() + pods[1]!.count()).toBe(2)
  })

  it('a handler that throws while the last retryable response is returned gets the error, as undici does (no unhandled rejection)', async () => {
    const pods = await start(2, (req, res) => {
      req.resume()
      res.statusCode = 503
      res.end('busy')
    })
    const { client } = clientFor(pods)
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown) => unhandled.push(reason)
    process.on('unhandledRejection', onUnhandled)
    try {
      const failure = new Error('handler bug')
      const error = await new Promise<Error>((resolve) => {
        client.dispatcher.dispatch(
          { origin: 'http://web.test:8080', path: '/', method: 'GET' },
          {
            onRequestStart() {},
            onResponseStart() {
              throw failure
            },
            onResponseData() {},
            onResponseEnd() {
              resolve(new Error('ended instead of failing'))
            },
            onResponseError(_controller, err) {
              resolve(err)
            },
          },
        )
      })
      expect(error).toBe(failure)
      await new Promise((r) => setImmediate(r))
      expect(unhandled).toEqual([])
    } finally {
      process.off('unhandledRejection', onUnhandled)
    }
  })

  it('a handler that aborts while the last retryable response is returned gets its abort reason', async () => {
    const pods = await start(2, (req, res) => {
      req.resume()
      res.statusCode = 503
      res.end('busy')
    })
    const { client } = clientFor(pods)
    const stop = new Error('caller stops')
    const error = await new Promise<Error>((resolve) => {
      client.dispatcher.dispatch(
        { origin: 'http://web.test:8080', path: '/', method: 'GET' },
        {
          onRequestStart() {},
          onResponseStart(controller) {
            controller.abort(stop)
          },
          onResponseData() {},
          onResponseEnd() {
            resolve(new Error('ended after the abort'))
          },
          onResponseError(_controller, err) {
            resolve(err)
          },
        },
      )
      setTimeout(() => resolve(new Error('no answer')), 3_000).unref()
    })
    expect(error).toBe(stop)
  })

  it('honours a short Retry-After and returns a long one to the caller', async () => {
    const pods = await start(2)
    let retryAfter = '0'
    pods[0]!.behaviour = (req, res) => {
      req.resume()
      res.statusCode = 503
      res.setHeader('retry-after', retryAfter)
      res.end()
    }
    const { client } = clientFor(pods, { retry: { maxRetryAfter: 2_000, minTimeout: 1 } })
    const first = await client.request('/x')
    expect(first.statusCode).toBe(200)
    await first.body.dump()
    retryAfter = '120'
    // The fake pool's rotation comes back to web-0, which now asks for 2 minutes.
    const second = await client.request('/x')
    expect(second.statusCode).toBe(503)
    expect(second.headers['retry-after']).toBe('120')
    await second.body.dump()
    expect(pods[0]!.count()).toBe(2)
  })

  it('waits out a Retry-After within the bound and says so in the retry event', async () => {
    const pods = await start(2)
    pods[0]!.behaviour = (req, res) => {
      req.resume()
      res.statusCode = 503
      res.setHeader('retry-after', '1')
      res.end()
    }
    const { client } = clientFor(pods, { retry: { maxRetryAfter: 2_000, minTimeout: 1 } })
    const attempts: number[] = []
    const retries: RetryEvent[] = []
    client.on('attempt', (e) => attempts.push(e.attempt))
    client.on('retry', (e) => retries.push(e))
    const res = await client.request('/x')
    expect(res.statusCode).toBe(200)
    await res.body.dump()
    expect(attempts).toEqual([1, 2])
    expect(retries).toMatchObject([{ kind: 'status', statusCode: 503, retryAfter: 1_000, attempt: 1 }])
  })

  it('an error after the response started belongs to the caller: the body errors, nothing is retried', async () => {
    const pods = await start(2, (req, res) => {
      req.resume()
      res.writeHead(200, { 'content-length': '100' })
      res.write('partial') // and never the rest
    })
    const { client } = clientFor(pods, { timeouts: { body: 200 } })
    const res = await client.request('/x')
    expect(res.statusCode).toBe(200)
    await expect(res.body.text()).rejects.toMatchObject({ code: 'UND_ERR_BODY_TIMEOUT' })
    expect(pods[0]!.count() + pods[1]!.count()).toBe(1)
    expect(client.stats()).toMatchObject({ attempts: 1, retries: 0, failures: 1 })
  })

  it('fails over a GET after the headers timeout', async () => {
    const pods = await start(2)
    pods[0]!.behaviour = () => {} // accepts, reads, never answers
    const { client, pool } = clientFor(pods, { timeouts: { headers: 200 } })
    const res = await client.request('/x')
    expect(await res.body.text()).toBe('web-1')
    expect(pool.released.find((r) => r.endpoint.name === 'web-0')?.outcome).toMatchObject({ kind: 'timeout' })
  })

  it('stops retrying when the retry budget is spent', async () => {
    const pods = await start(3, (req) => req.socket.destroy())
    const { client } = clientFor(pods, { retry: { minTimeout: 1, budget: { ratio: 0, minPerSecond: 0.1 } } })
    // minPerSecond 0.1 over the 10 s window: one retry allowed.
    const error = await client.request('/x').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(RetryBudgetExhaustedError)
    expect((error as RetryBudgetExhaustedError).endpoints).toHaveLength(2)
    expect(client.stats()).toMatchObject({ retries: 1, retriesDenied: 1 })
  })

  it('a retry that finds no endpoint to go to takes nothing from the retry budget', async () => {
    const [a, b] = await start(2, (req) => req.socket.destroy())
    const deadPrimary = await refusedEndpoint('web-0')
    const pool = new FakePool('web.test', [
      deadPrimary,
      endpoint('web-1', a!.address, a!.port),
      endpoint('web-2', b!.address, b!.port),
    ])
    const client = createClient({
      origin: 'http://web.test',
      pool,
      retry: { retries: 1, minTimeout: 1, budget: { ratio: 0, minPerSecond: 0.1 } }, // one retry per 10 s
    })
    clients.push(client)
    // The primary refuses; there is no other primary, so no retry can be made.
    const write = await client
      .request('/orders', { method: 'POST', body: 'x', route: 'primary' })
      .catch((e) => e)
    expect(write).toBeInstanceOf(RequestFailedError)
    expect((write as RequestFailedError).message).toMatch(/no other endpoint/)
    // A read's retry still has the budget's one retry.
    const read = await client.request('/x', { route: 'replica' }).catch((e: unknown) => e)
    expect(read).not.toBeInstanceOf(RetryBudgetExhaustedError)
    expect((read as RequestFailedError).attempts).toHaveLength(2)
    expect(client.stats().retriesDenied).toBe(0)
  })

  it('gives up after the configured retries with every attempt in the error', async () => {
    const pods = await start(3, (req) => req.socket.destroy())
    const { client } = clientFor(pods, { retry: { retries: 1, minTimeout: 1 } })
    const error = (await client.request('/x').catch((e: unknown) => e)) as RequestFailedError
    expect(error).toBeInstanceOf(RequestFailedError)
    const tried = error.attempts.map((a) => a.endpoint.name)
    expect(tried).toHaveLength(2)
    expect(new Set(tried).size).toBe(2)
    expect(error.message).toMatch(/no retries left/)
  })

  it('a request undici refuses (invalid header) fails once, not once per endpoint', async () => {
    const pods = await start(3)
    const { client, pool } = clientFor(pods)
    const error = await client
      .request('/x', { headers: { 'x-note': 'line\r\nbreak' } })
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(RequestFailedError)
    expect((error as RequestFailedError).cause).toMatchObject({ code: 'UND_ERR_INVALID_ARG' })
    expect((error as RequestFailedError).message).toMatch(/not retried/)
    expect(pool.acquired).toHaveLength(1)
    expect(client.stats()).toMatchObject({ attempts: 1, retries: 0 })
    const mismatch = await client
      .request('/x', { method: 'PUT', headers: { 'content-length': '10' }, body: 'abc' })
      .catch((e: unknown) => e)
    expect((mismatch as RequestFailedError).cause).toMatchObject({
      code: 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH',
    })
    expect(pool.acquired).toHaveLength(2)
    expect(pods.reduce((n, p) => n + p.count(), 0)).toBe(0)
  })

  it('fails fast with the pool error when no endpoint is available', async () => {
    const { client } = clientFor([])
    await expect(client.request('/x')).rejects.toBeInstanceOf(NoEndpointsError)
  })

  it('an abort cancels the attempt in flight and any retry, with a DeadlineExceededError', async () => {
    const pods = await start(2, () => {})
    const { client, pool } = clientFor(pods)
    const error = await client.request('/x', { signal: AbortSignal.timeout(150) }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(DeadlineExceededError)
    expect((error as DeadlineExceededError).cause).toMatchObject({ name: 'TimeoutError' })
    expect(pool.acquired).toHaveLength(1)
    await until('the lease to be released', () => pool.released.length === 1)
  })

  it('an abort during the backoff stops the retries', async () => {
    const [pod] = await start(1)
    const dead = await refusedEndpoint('web-9')
    const pool = new FakePool('web.test', [dead, endpoint('web-0', pod!.address, pod!.port)])
    const client = createClient({
      origin: 'http://web.test',
      pool,
      retry: { minTimeout: 5_000, maxTimeout: 5_000 },
    })
    clients.push(client)
    const controller = new AbortController()
    client.on('retry', () => controller.abort(new Error('caller gave up')))
    const error = await client.request('/x', { signal: controller.signal }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(DeadlineExceededError)
    expect(pod!.count()).toBe(0)
  })

  it('drains the connection pool of a removed endpoint: in-flight requests finish, then its sockets close', async () => {
    const pods = await start(2)
    let finish: (() => void) | undefined
    pods[0]!.behaviour = (req, res) => {
      req.resume()
      finish = () => res.end('late')
    }
    const { client, pool } = clientFor(pods)
    const slow = client.request('/slow')
    await until('the request to reach web-0', () => finish !== undefined)
    await (await client.request('/x')).body.dump() // web-1
    pool.setEndpoints([endpoint('web-1', pods[1]!.address, pods[1]!.port)])
    expect(client.stats().pools).toEqual(['web-1.web.test'])
    expect(client.stats().draining).toBe(1)
    finish?.()
    const res = await slow
    expect(await res.body.text()).toBe('late')
    await until('web-0 sockets to close', () => pods[0]!.sockets.size === 0)
    await until('the drain to end', () => client.stats().draining === 0)
    for (let i = 0; i < 4; i++) expect(await (await client.request('/x')).body.text()).toBe('web-1')
  })

  it('destroy() also fails requests on a draining pool at once', async () => {
    const pods = await start(2)
    pods[0]!.behaviour = () => {} // never answers
    const { client, pool } = clientFor(pods, { timeouts: { headers: 60_000 } })
    const hung = client.request('/hung').catch((e: unknown) => e)
    await until('the request to reach web-0', () => pods[0]!.count() === 1)
    pool.setEndpoints([endpoint('web-1', pods[1]!.address, pods[1]!.port)])
    expect(client.stats().draining).toBe(1)
    const destroyed = client.dispatcher.destroy()
    let done = false
    void destroyed.then(() => {
      done = true
    })
    await until('destroy() to end', () => done, 3_000)
    expect(await hung).toBeInstanceOf(Error)
    await until('web-0 sockets to close', () => pods[0]!.sockets.size === 0)
  })

  it('a new endpoint gets traffic at once', async () => {
    const pods = await start(2)
    const { client, pool } = clientFor([pods[0]!])
    await (await client.request('/x')).body.dump()
    pool.setEndpoints([pods[0]!, pods[1]!].map((p) => endpoint(p.name, p.address, p.port)))
    for (let i = 0; i < 4; i++) await (await client.request('/x')).body.dump()
    expect(pods[1]!.count()).toBe(2)
  })

  it('works as the dispatcher of undici.request', async () => {
    const pods = await start(2)
    const { client } = clientFor(pods)
    const res = await undiciRequest('http://web.test:8080/a', { dispatcher: client.dispatcher })
    expect(res.statusCode).toBe(200)
    expect(await res.body.text()).toMatch(/^web-/)
  })

  it("refuses a request for another origin instead of sending it to the service's pods", async () => {
    const pods = await start(2)
    const { client } = clientFor(pods)
    // Say the dispatcher was made global: a library's call to another host must not reach the pods.
    await expect(
      undiciRequest('https://auth.example.org/token', {
        dispatcher: client.dispatcher,
        method: 'POST',
        headers: { authorization: 'Bearer secret' },
        body: 'grant_type=client_credentials',
      }),
    ).rejects.toThrow(/origin must be http:\/\/web.test:8080.*got "https:\/\/auth.example.org"/)
    await expect(client.fetch('http://web.test:9090/x')).rejects.toMatchObject({
      cause: { message: expect.stringMatching(/origin must be/) },
    })
    expect(pods[0]!.count() + pods[1]!.count()).toBe(0)
    // The same origin spelt differently is the same origin.
    const res = await undiciRequest('HTTP://WEB.TEST:8080/a', { dispatcher: client.dispatcher })
    expect(res.statusCode).toBe(200)
    await res.body.dump()
  })

  it('streams a large body with backpressure', async () => {
    const chunk = Buffer.alloc(64 * 1024, 120)
    const pods = await start(1, (req, res) => {
      req.resume()
      let sent = 0
      const write = () => {
        while (sent < 64) {
          sent++
          if (!res.write(chunk)) return
        }
        res.end()
      }
      res.on('drain', write)
      write()
    })
    const { client } = clientFor(pods)
    const res = await client.request('/big', { highWaterMark: 16 * 1024 })
    let size = 0
    for await (const part of res.body) size += (part as Buffer).length
    expect(size).toBe(64 * chunk.length)
  })

  it('close() waits for a request in its retry backoff, and leaves no connection pool or socket behind', async () => {
    const pods = await start(2)
    pods[0]!.behaviour = (req) => req.socket.destroy()
    const { client } = clientFor(pods, {
      retry: { minTimeout: 300, maxTimeout: 300, randomize: false },
      keepAliveTimeout: 60_000,
    })
    let closing: Promise<void> | undefined
    client.on('retry', () => {
      closing = client.close()
    })
    const res = await client.request('/x') // web-0 resets; the retry goes to web-1 after the backoff
    expect(await res.body.text()).toBe('web-1')
    await closing
    expect(client.stats()).toMatchObject({ pools: [], draining: 0 })
    await until('web-1 to see its connection close', () => pods[1]!.sockets.size === 0, 2_000)
  })

  it('is closed after close(): requests fail with ClosedError, and no socket is left', async () => {
    const pods = await start(2)
    const { client, pool } = clientFor(pods)
    await (await client.request('/x')).body.dump()
    await (await client.request('/x')).body.dump()
    await client.close()
    await client.close()
    await expect(client.request('/x')).rejects.toMatchObject({ code: 'HLB_ERR_CLOSED' })
    await until('sockets to close', () => pods.every((p) => p.sockets.size === 0))
    expect(pool.closed).toBe(0) // a given pool belongs to the caller
  })
})
