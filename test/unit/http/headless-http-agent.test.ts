import { once } from 'node:events'
import http from 'node:http'
import { describe, expect, it } from 'vitest'
import { createClient } from '../../../src/http/create-client.js'
import { HeadlessHttpAgent, HeadlessHttpsAgent } from '../../../src/http/headless-http-agent.js'

const services = { 'web.test': { addresses: ['127.0.0.1:1'] } }

describe('HeadlessHttpAgent options', () => {
  it.each([
    [{ services, pipelining: 2 }, /^pipelining .*node:http does not pipeline/],
    [{ services, timeouts: { headers: 1 } }, /^timeouts\.headers .*axios `timeout`/],
    [{ services, retry: { statusCodes: [503] } }, /^retry\.statusCodes .*connects that failed/],
    [{ services, tls: {} }, /^tls .*HeadlessHttpsAgent/],
    [{ services, allowH2: true }, /^allowH2 .*HTTP\/1\.1 only/],
    [
      { services: { 'web.test': { addresses: ['127.0.0.1:1'], timeouts: { body: 5 } } } },
      /^services\["web\.test"\]\.timeouts\.body/,
    ],
    [{ services, conections: 2 }, /^conections .*Known options/],
    [{ services: { 'web.test': { adresses: [] } } }, /^services\["web\.test"\]\.adresses/],
    [{ services, retry: { retries: -1 } }, /^retry\.retries must be an integer from 0 to 100/],
  ])('rejects %j', (options, message) => {
    expect(() => new HeadlessHttpAgent(options as never)).toThrow(message)
  })

  it('takes the options that apply, and tls for the https agent', () => {
    const agent = new HeadlessHttpAgent({
      services: { 'web.test': { addresses: ['127.0.0.1:1'], connections: 4 } },
      retry: { retries: 1 },
      timeouts: { connect: 200 },
      keepAliveTimeout: 1_000,
    })
    agent.destroy()
    new HeadlessHttpsAgent({ services, tls: { rejectUnauthorized: true } }).destroy()
  })
})

describe('HeadlessHttpAgent with static addresses', () => {
  it('fails a request for a service with no reachable endpoint with the connect error, after trying each once', async () => {
    const agent = new HeadlessHttpAgent({
      services: {
        'web.test': { addresses: ['127.0.0.1:1', '127.0.0.1:2'], outlierDetection: false } as never,
      },
    })
    const error = await new Promise<unknown>((resolve) => {
      http.get('http://web.test:8080/', { agent }, () => resolve(null)).on('error', resolve)
    })
    expect(error).toMatchObject({ code: 'ECONNREFUSED' })
    await agent.close()
    expect(agent.services[0]?.stats()).toMatchObject({
      requests: 1,
      connectRetries: 1,
      failures: 1,
      sockets: 0,
    })
  })

  it('a request aborted by its signal while connecting ends with the abort, and the agent closes', async () => {
    const server = http.createServer((_req, res) => res.end('ok'))
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const { port } = server.address() as { port: number }
    const agent = new HeadlessHttpAgent({ services: { 'web.test': { addresses: [`127.0.0.1:${port}`] } } })
    const controller = new AbortController()
    const error = new Promise<unknown>((resolve) => {
      http
        .get(`http://web.test:${port}/`, { agent, signal: controller.signal }, () => resolve(null))
        .on('error', resolve)
    })
    controller.abort()
    expect(await error).toMatchObject({ name: 'AbortError' })
    await agent.close()
    server.close()
  })
})

describe('allowH2 (undici clients)', () => {
  it('is a boolean, named in the error', () => {
    expect(() =>
      createClient({ origin: 'https://web.test', addresses: ['127.0.0.1:1'], allowH2: 'yes' as never }),
    ).toThrow(/allowH2 must be/)
  })
})
