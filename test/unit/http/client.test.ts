import { once } from 'node:events'
import { createServer as createHttpsServer } from 'node:https'
import { fetch as undiciFetch } from 'undici'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createClient } from '../../../src/http/create-client.js'
import { HeadlessAgent } from '../../../src/http/headless-agent.js'
import { selfSignedCertificate } from '../../support/self-signed-certificate.js'
import { until } from '../../support/until.js'
import { endpoint, FakePool } from './fake-pool.js'
import { TestServer } from './test-servers.js'

const servers: TestServer[] = []
const closers: Array<{ close(): Promise<void> }> = []

afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c.close()))
  await Promise.all(servers.splice(0).map((s) => s.close()))
})

async function pods(n: number): Promise<TestServer[]> {
  const list: TestServer[] = []
  for (let i = 0; i < n; i++) {
    const s = await new TestServer(`web-${i}`, `127.0.0.${i + 2}`).listen()
    servers.push(s)
    list.push(s)
  }
  return list
}

function poolOf(list: TestServer[]): FakePool {
  return new FakePool(
    'web.test',
    list.map((p) => endpoint(p.name, p.address, p.port)),
  )
}

describe('createClient', () => {
  it('fetch returns a WHATWG Response from a balanced endpoint', async () => {
    const list = await pods(2)
    const client = createClient({ origin: 'http://web.test', pool: poolOf(list) })
    closers.push(client)
    const names = []
    for (let i = 0; i < 4; i++) {
      const res = await client.fetch('/x', { method: 'POST', body: 'hello' })
      expect(res.status).toBe(200)
      names.push(await res.text())
    }
    expect(names.sort()).toEqual(['web-0', 'web-0', 'web-1', 'web-1'])
    expect(list[0]!.requests[0]!.host).toBe('web.test')
  })

  it('routes writes to the primary and reads by readPreference; route overrides', async () => {
    const list = await pods(3)
    const pool = poolOf(list)
    const client = createClient({ origin: 'http://web.test', pool, routeByMethod: true })
    closers.push(client)
    for (let i = 0; i < 4; i++) await (await client.request('/w', { method: 'POST', body: 'x' })).body.dump()
    for (let i = 0; i < 4; i++) await (await client.request('/r')).body.dump()
    expect(list[0]!.count('POST')).toBe(4)
    expect(list[0]!.count('GET')).toBe(0)
    expect(list[1]!.count('GET') + list[2]!.count('GET')).toBe(4)
    await (await client.request('/r', { route: 'primary' })).body.dump()
    expect(list[0]!.count('GET')).toBe(1)
    const res = await client.fetch('/r', { route: 'primary' })
    await res.text()
    expect(list[0]!.count('GET')).toBe(2)
    expect(pool.acquired.at(-1)?.options).toEqual({ role: 'primary', key: undefined })
    await (await client.request('/k', { key: 'user-1', route: 'any' })).body.dump()
    expect(pool.acquired.at(-1)?.options).toEqual({ key: 'user-1' })
  })

  it('refuses a request whose route or key is invalid, instead of sending it anywhere', async () => {
    const list = await pods(2)
    const client = createClient({ origin: 'http://web.test:8080', pool: poolOf(list) })
    closers.push(client)
    await expect(
      client.request('/orders', { method: 'POST', body: 'x', route: 'primry' as never }),
    ).rejects.toThrow(/route must be one of "primary", "replica", "any"/)
    await expect(
      client.fetch('/orders', { method: 'POST', body: 'x', route: 'master' as never }),
    ).rejects.toMatchObject({
      cause: { message: expect.stringMatching(/route must be one of/) },
    })
    await expect(client.request('/cart', { key: 42 as never })).rejects.toThrow(/key must be a string/)
    expect(list[0]!.count() + list[1]!.count()).toBe(0)
  })

  it("works with Node's global fetch as its dispatcher", async () => {
    const list = await pods(2)
    const client = createClient({ origin: 'http://web.test', pool: poolOf(list) })
    closers.push(client)
    const names = []
    for (let i = 0; i < 2; i++) {
      const res = await fetch('http://web.test/x', {
        dispatcher: client.dispatcher,
      } as unknown as RequestInit)
      names.push(await res.text())
    }
    expect(names.sort()).toEqual(['web-0', 'web-1'])
  })

  it('serves handlers written for the legacy undici handler API (onConnect/onHeaders/onData/onComplete)', async () => {
    const list = await pods(1)
    const client = createClient({ origin: 'http://web.test', pool: poolOf(list) })
    closers.push(client)
    const result = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      let status = 0
      const chunks: Buffer[] = []
      client.dispatcher.dispatch({ origin: 'http://web.test', path: '/', method: 'GET' }, {
        onConnect() {},
        onHeaders(statusCode: number) {
          status = statusCode
          return true
        },
        onData(chunk: Buffer) {
          chunks.push(chunk)
          return true
        },
        onComplete() {
          resolve({ status, body: Buffer.concat(chunks).toString() })
        },
        onError: reject,
      } as never)
    })
    expect(result).toEqual({ status: 200, body: 'web-0' })
  })

  it('retries a streamed POST body after a refused connect, as none of it was read', async () => {
    const [pod] = await pods(1)
    const gone = await new TestServer('web-9', '127.0.0.9').listen()
    const port = gone.port
    await gone.close()
    const pool = new FakePool('web.test', [
      endpoint('web-9', '127.0.0.9', port),
      endpoint('web-0', pod!.address, pod!.port),
    ])
    const client = createClient({ origin: 'http://web.test', pool })
    closers.push(client)
    const received: string[] = []
    pod!.behaviour = (req, res) => {
      let body = ''
      req.on('data', (c: Buffer) => {
        body += c
      })
      req.on('end', () => {
        received.push(body)
        res.end('ok')
      })
    }
    const res = await client.fetch('/orders', {
      method: 'POST',
      body: new Blob(['a', 'b']).stream(),
      duplex: 'half',
    } as never)
    expect(res.status).toBe(200)
    await res.text()
    expect(received).toEqual(['ab'])
  })

  it('validates its options, naming the option', () => {
    const pool = new FakePool('web.test', [])
    expect(() => createClient({ origin: 'ftp://x', pool })).toThrow(/origin must be an http/)
    expect(() => createClient({ origin: 'http://x/path', pool })).toThrow(/without path/)
    expect(() => createClient({ origin: 'http://x', pool, retry: { retries: -1 } })).toThrow(
      /retry.retries must be an integer from 0 to 100, got -1/,
    )
    expect(() => createClient({ origin: 'http://x', pool, timeouts: { connect: 0 } })).toThrow(RangeError)
    expect(() => createClient({ origin: 'http://x', pool, timeouts: { conect: 1 } as never })).toThrow(
      /timeouts.conect must be a known option.*Known options: connect, headers, body/,
    )
    expect(() => createClient({ origin: 'http://x', pool, retry: { budget: { ratio: 2 } } })).toThrow(
      /retry.budget.ratio must be a number from 0 to 1, got 2/,
    )
    expect(() => createClient({ origin: 'http://x', pool, readPreference: 'secondary' as never })).toThrow(
      /readPreference must be one of/,
    )
    expect(() => createClient({ origin: 'http://x', pool, balancer: 'random' } as never)).toThrow(
      'balancer must be absent when pool is given (it is a pool option), got "random". Configure that pool instead',
    )
  })
})

describe('HTTPS by service name', () => {
  let cert: Buffer
  let key: Buffer

  beforeAll(() => {
    ;({ cert, key } = selfSignedCertificate(['web.test']))
  })

  it('connects to pod IPs and verifies a certificate issued to the service name (SNI and Host = the name)', async () => {
    const seen: Array<{ sni: string | undefined; host: string | undefined }> = []
    const started: import('node:https').Server[] = []
    for (const address of ['127.0.0.2', '127.0.0.3']) {
      const server = createHttpsServer({ cert, key }, (req, res) => {
        seen.push({ sni: (req.socket as { servername?: string }).servername, host: req.headers.host })
        res.end(address)
      })
      server.listen(0, address)
      await once(server, 'listening')
      started.push(server)
    }
    closers.push({
      close: () =>
        Promise.all(started.map((s) => new Promise<void>((r) => s.close(() => r())))).then(() => undefined),
    })
    const pool = new FakePool(
      'web.test',
      started.map((s, i) =>
        endpoint(`web-${i}`, ['127.0.0.2', '127.0.0.3'][i]!, (s.address() as { port: number }).port),
      ),
    )
    const client = createClient({ origin: 'https://web.test', pool, tls: { ca: cert } })
    const bodies = []
    for (let i = 0; i < 2; i++) bodies.push(await (await client.request('/')).body.text())
    await client.close()
    for (const s of started) s.closeAllConnections()
    expect(bodies.sort()).toEqual(['127.0.0.2', '127.0.0.3'])
    expect(seen).toEqual([
      { sni: 'web.test', host: 'web.test' },
      { sni: 'web.test', host: 'web.test' },
    ])

    // Without the CA, the certificate is refused: the name really is checked.
    const strict = createClient({ origin: 'https://web.test', pool, retry: { retries: 0 } })
    await expect(strict.request('/')).rejects.toMatchObject({ code: 'HLB_ERR_REQUEST_FAILED' })
    await strict.close()
  })
})

describe('HeadlessAgent', () => {
  it('balances listed services and passes other hosts through, with undici fetch', async () => {
    const list = await pods(2)
    const other = await new TestServer('other', '127.0.0.7').listen()
    servers.push(other)
    const agent = new HeadlessAgent({
      services: { 'web.test': { pool: poolOf(list) } },
      retry: { retries: 1 },
    })
    closers.push(agent)
    const names = []
    for (let i = 0; i < 4; i++) {
      const res = await undiciFetch('http://web.test:8080/x', { dispatcher: agent })
      names.push(await res.text())
    }
    expect(names.sort()).toEqual(['web-0', 'web-0', 'web-1', 'web-1'])
    expect(list[0]!.requests[0]!.host).toBe('web.test:8080')
    const res = await undiciFetch(`http://127.0.0.7:${other.port}/y`, { dispatcher: agent })
    expect(await res.text()).toBe('other')
    expect(agent.services.map((s) => s.service)).toEqual(['web.test'])
  })

  it("works with Node's global fetch (legacy handlers), for balanced and pass-through hosts, and after close", async () => {
    const list = await pods(1)
    const other = await new TestServer('other', '127.0.0.7').listen()
    servers.push(other)
    const agent = new HeadlessAgent({ services: { 'web.test': { pool: poolOf(list) } } })
    const init = { dispatcher: agent } as unknown as RequestInit
    expect(await (await globalThis.fetch('http://web.test/x', init)).text()).toBe('web-0')
    expect(await (await globalThis.fetch(`http://127.0.0.7:${other.port}/y`, init)).text()).toBe('other')
    await agent.close()
    const failed = await Promise.race([
      globalThis.fetch('http://web.test/x', init).catch((e: unknown) => e),
      new Promise((resolve) => setTimeout(resolve, 3_000, 'no answer')),
    ])
    expect(failed).toMatchObject({ cause: { code: 'HLB_ERR_CLOSED' } })
  })

  it('closes every balanced service and the pass-through agent; later requests fail with ClosedError', async () => {
    const list = await pods(1)
    const pool = poolOf(list)
    const agent = new HeadlessAgent({ services: { 'web.test': { pool } } })
    const res = await undiciFetch('http://web.test/x', { dispatcher: agent })
    expect(await res.text()).toBe('web-0')
    await agent.close()
    await agent.close()
    await expect(undiciFetch('http://web.test/x', { dispatcher: agent })).rejects.toMatchObject({
      cause: { code: 'HLB_ERR_CLOSED' },
    })
    await until('the pod to see its connection close', () => list[0]!.sockets.size === 0)
    expect(pool.closed).toBe(0) // a pool given in the options is the caller's
  })

  it('validates its options', () => {
    expect(
      () => new HeadlessAgent({ services: { 'web.test': { retry: { retries: 'x' as never } } } }),
    ).toThrow(/^services\["web.test"\].retry.retries must be an integer/)
    expect(
      () =>
        new HeadlessAgent({
          services: {
            'web.test': { addresses: ['127.0.0.1:1'], retry: { minTimeout: 100, maxTimeout: 50 } },
          },
        }),
    ).toThrow(
      'services["web.test"].retry.maxTimeout must be >= services["web.test"].retry.minTimeout (100), got 50',
    )
    expect(() => new HeadlessAgent({ services: {}, retires: 1 } as never)).toThrow(
      /Did you mean|Known options/,
    )
    // Pool options too, at construction rather than at the first request to the service.
    expect(
      () => new HeadlessAgent({ services: { 'web.test': { balancer: 'round-robbin' as never } } }),
    ).toThrow(/^services\["web.test"\].balancer must be one of/)
    expect(() => new HeadlessAgent({ services: { 'web.test': { prot: 8080 } as never } })).toThrow(
      /^services\["web.test"\].prot must be a known option/,
    )
    expect(() => new HeadlessAgent({ services: { 'web..test': {} } })).toThrow(
      /service must be a valid DNS name/,
    )
    expect(
      () =>
        new HeadlessAgent({
          services: { 'web.test': { pool: new FakePool('web.test', []), balancer: 'random' } as never },
        }),
    ).toThrow(
      'services["web.test"].balancer must be absent when services["web.test"].pool is given (it is a pool option), got "random". Configure that pool instead',
    )
  })
})
