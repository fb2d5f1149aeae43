import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { DeadlineExceededError } from '../../../src/errors.js'
import type { AttemptEndEvent } from '../../../src/http/balanced-dispatcher.js'
import type { HttpOptions } from '../../../src/http/client-options.js'
import { createClient } from '../../../src/http/create-client.js'
import type { HeadlessClient } from '../../../src/http/headless-client.js'
import { HeadlessHttpAgent } from '../../../src/http/headless-http-agent.js'
import type { HealthEvent, StallEvent } from '../../../src/pool.js'
import { until } from '../../support/until.js'
import { endpoint, FakePool } from './fake-pool.js'
import { ok, TestServer } from './test-servers.js'

const servers: TestServer[] = []
const clients: Array<HeadlessClient<FakePool>> = []

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.destroy()))
  await Promise.all(servers.splice(0).map((s) => s.close()))
})

/** Pod 0 holds requests to /hold until released; every other request, and pod 1, answer at once. */
async function pods(): Promise<{ a: TestServer; b: TestServer; release: () => void }> {
  const held: ServerResponse[] = []
  const a = new TestServer('web-0', '127.0.0.2', (req: IncomingMessage, res, server) => {
    if (req.url?.startsWith('/hold')) {
      req.resume()
      held.push(res)
      return
    }
    ok(req, res, server)
  })
  const b = new TestServer('web-1', '127.0.0.3')
  await a.listen()
  await b.listen()
  servers.push(a, b)
  return {
    a,
    b,
    release: () => {
      for (const res of held.splice(0)) res.end('held')
    },
  }
}

function clientFor(a: TestServer, b: TestServer, options: HttpOptions = {}) {
  const pool = new FakePool('web.test', [
    endpoint(a.name, a.address, a.port),
    endpoint(b.name, b.address, b.port),
  ])
  const client = createClient({ origin: 'http://web.test:8080', pool, connections: 1, ...options })
  clients.push(client)
  return { client, pool, a: pool.endpoints[0]!, b: pool.endpoints[1]! }
}

function leave(
  pool: FakePool,
  which: FakePool['endpoints'][number],
  how: 'ejected' | 'unhealthy' | 'stall',
): void {
  pool.ejected.add(which.id)
  if (how === 'stall')
    pool.emit('stall', { endpoint: which, stalled: true, waited: 100 } satisfies StallEvent)
  else
    pool.emit('health', {
      endpoint: which,
      state: how,
      previous: 'healthy',
      reason: how === 'ejected' ? 'ejected' : 'check-failed',
    } satisfies HealthEvent)
}

async function text(client: HeadlessClient<FakePool>, path: string, method = 'GET'): Promise<string> {
  const res = await client.request(path, { method })
  return `${res.statusCode} ${await res.body.text()}`
}

describe('an endpoint leaving rotation', () => {
  for (const how of ['ejected', 'unhealthy', 'stall'] as const) {
    it(`${how}: a POST queued there, never written, goes to another endpoint once, not as a retry`, async () => {
      const { a, b, release } = await pods()
      const { client, pool, a: epA } = clientFor(a, b, { retry: { retries: 0, budget: false } })
      const ends: AttemptEndEvent[] = []
      client.on('attempt-end', (e: AttemptEndEvent) => ends.push(e))
      // Round-robin over [a, b]: the held POST takes a's only connection, the next goes to b,
      // the third queues behind the first on a.
      const held = text(client, '/hold', 'POST')
      await until('the held POST to reach web-0', () => a.count() === 1)
      expect(await text(client, '/one', 'POST')).toBe('200 web-1')
      const queued = text(client, '/queued', 'POST')
      await new Promise((resolve) => setImmediate(resolve))
      expect(a.count()).toBe(1)
      leave(pool, epA, how)
      expect(await queued).toBe('200 web-1')
      // Written once, to web-1 only; the held one is intact on web-0.
      expect(a.requests.map((r) => r.url)).toEqual(['/hold'])
      expect(b.requests.map((r) => r.url)).toEqual(['/one', '/queued'])
      release()
      expect(await held).toBe('200 held')
      expect(client.stats()).toMatchObject({ attemptsMoved: 1, retries: 0, failures: 0 })
      const moved = ends.find((e) => e.outcome === 'cancelled')
      expect(moved).toMatchObject({ attempt: 1, endpoint: epA })
      expect((moved?.error as { code?: string } | undefined)?.code).toBe('HLB_ERR_ATTEMPT_MOVED')
      // Neutral for the endpoint left: the move is no failure of web-0's.
      const releasedOnA = pool.released.filter((r) => r.endpoint.id === epA.id).map((r) => r.outcome)
      expect(releasedOnA.filter((o) => !o.ok && o.kind !== 'cancelled')).toEqual([])
    })
  }

  it('closes its idle connections at once, lets the one in flight finish, then opens fresh ones', async () => {
    const { a, b, release } = await pods()
    const { client, pool, a: epA } = clientFor(a, b, { connections: 2 })
    // Two connections to web-0: one will be idle, one holds a request.
    await Promise.all([text(client, '/x'), text(client, '/y'), text(client, '/z'), text(client, '/w')])
    await until('two connections to web-0', () => a.sockets.size === 2)
    const before = new Set(a.sockets)
    const held = text(client, '/hold')
    await until('the held GET to reach web-0', () => a.requests.some((r) => r.url === '/hold'))
    leave(pool, epA, 'ejected')
    await until('the idle connection to close', () => a.sockets.size === 1)
    release()
    expect(await held).toBe('200 held')
    await until('the busy connection to close after its request', () => a.sockets.size === 0)
    // Back in rotation: a new connection, none of the old ones.
    pool.ejected.delete(epA.id)
    const again = await Promise.all([text(client, '/again'), text(client, '/again')])
    expect(again.sort()).toEqual(['200 web-0', '200 web-1'])
    expect([...a.sockets].some((s) => before.has(s))).toBe(false)
    expect(client.stats().draining).toBe(0)
  })

  it('with no other endpoint, a queued request moves to a fresh connection pool for the same one', async () => {
    const { a, b, release } = await pods()
    const { client, pool, a: epA, b: epB } = clientFor(a, b, { retry: { retries: 0, budget: false } })
    pool.ejected.add(epB.id)
    const held = text(client, '/hold')
    await until('the held GET to reach web-0', () => a.count() === 1)
    const queued = text(client, '/queued', 'POST')
    await new Promise((resolve) => setImmediate(resolve))
    // Stalled but the only endpoint: pickers still offer it.
    pool.emit('stall', { endpoint: epA, stalled: true, waited: 100 } satisfies StallEvent)
    expect(await queued).toBe('200 web-0')
    expect(a.requests.map((r) => r.url)).toEqual(['/hold', '/queued'])
    release()
    expect(await held).toBe('200 held')
    expect(client.stats()).toMatchObject({ attemptsMoved: 1, failures: 0 })
  })

  it('the retired pool, left with only requests taken back, is destroyed: it opens no connection for them', async () => {
    const { a, b } = await pods()
    const { client, pool, a: epA } = clientFor(a, b)
    let connections = 0
    a.server.on('connection', () => connections++)
    const cancel = new AbortController()
    const held = client.request('/hold', { signal: cancel.signal })
    await until('the held GET to reach web-0', () => a.count() === 1)
    expect(await text(client, '/one')).toBe('200 web-1')
    const queued = text(client, '/queued', 'POST')
    await new Promise((resolve) => setImmediate(resolve))
    leave(pool, epA, 'ejected')
    expect(await queued).toBe('200 web-1')
    const opened = connections
    // The held request ends (its socket with it): what is left in web-0's old pool was taken back.
    cancel.abort(new Error('caller gone'))
    await expect(held).rejects.toThrow()
    await until('the old pool to be gone', () => client.stats().draining === 0)
    expect(connections).toBe(opened)
    expect(a.requests.map((r) => r.url)).toEqual(['/hold'])
  })

  it('a stall with nothing written there retires nothing (connects left to time out and count); an ejection does', async () => {
    const { a, b } = await pods()
    const { client, pool, a: epA } = clientFor(a, b)
    await text(client, '/x')
    await text(client, '/y')
    expect(client.stats().pools).toContain(epA.id)
    pool.emit('stall', { endpoint: epA, stalled: true, waited: 100 } satisfies StallEvent)
    await new Promise((resolve) => setImmediate(resolve))
    expect(client.stats().pools).toContain(epA.id)
    leave(pool, epA, 'ejected')
    await new Promise((resolve) => setImmediate(resolve))
    expect(client.stats().pools).not.toContain(epA.id)
  })

  it('a request already written stays where it is: the caller deadline ends it, nothing is re-sent', async () => {
    const { a, b } = await pods()
    const { client, pool, a: epA } = clientFor(a, b)
    const held = client.request('/hold', { method: 'POST', signal: AbortSignal.timeout(300) })
    await until('the held POST to reach web-0', () => a.count() === 1)
    leave(pool, epA, 'ejected')
    await expect(held).rejects.toBeInstanceOf(DeadlineExceededError)
    expect(a.count() + b.count()).toBe(1)
    expect(client.stats().attemptsMoved).toBe(0)
  })
})

describe('an endpoint leaving rotation, through the node:http agent', () => {
  it('ejected: its idle keep-alive sockets close at once; its next request connects afresh', async () => {
    const { a, b } = await pods()
    const pool = new FakePool('web.test', [
      endpoint(a.name, a.address, a.port),
      endpoint(b.name, b.address, b.port),
    ])
    const agent = new HeadlessHttpAgent({ services: { 'web.test': { pool } }, keepAliveTimeout: 30_000 })
    clients.push({ destroy: () => agent.close() } as never)
    const get = () =>
      new Promise<string>((resolve, reject) => {
        http
          .get('http://web.test:8080/', { agent }, (res) => {
            let body = ''
            res.on('data', (c: Buffer) => (body += c))
            res.on('end', () => resolve(body))
          })
          .on('error', reject)
      })
    expect([await get(), await get()].sort()).toEqual(['web-0', 'web-1'])
    await until('an idle keep-alive socket to web-0', () => a.sockets.size === 1)
    const before = [...a.sockets]
    pool.emit('health', {
      endpoint: pool.endpoints[0]!,
      state: 'ejected',
      previous: 'healthy',
      reason: 'ejected',
    } satisfies HealthEvent)
    await until('the idle socket to web-0 to close', () => a.sockets.size === 0)
    expect([await get(), await get()].sort()).toEqual(['web-0', 'web-1'])
    expect([...a.sockets].some((s) => before.includes(s))).toBe(false)
  })
})
