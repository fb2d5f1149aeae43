import { metrics } from '@opentelemetry/api'
import { afterEach, describe, expect, it } from 'vitest'
import type { AttemptEndEvent } from '../../../src/http/balanced-dispatcher.js'
import { createClient } from '../../../src/http/create-client.js'
import { createPool } from '../../../src/pool.js'
import { InMemoryMeter } from '../../support/in-memory-meter.js'
import { endpoint, FakePool } from '../http/fake-pool.js'
import { TestServer } from '../http/test-servers.js'

const closers: Array<() => Promise<unknown>> = []

afterEach(async () => {
  metrics.disable()
  for (const close of closers.splice(0).reverse()) await close()
})

async function servers(n: number, status = (_i: number) => 200): Promise<TestServer[]> {
  const started: TestServer[] = []
  for (let i = 0; i < n; i++) {
    const s = await new TestServer(`web-${i}`, `127.0.0.${i + 2}`, (_req, res) => {
      res.writeHead(status(i))
      res.end(`web-${i}`)
    }).listen()
    closers.push(() => s.close())
    started.push(s)
  }
  return started
}

function meter(): InMemoryMeter {
  const m = new InMemoryMeter()
  closers.push(() => m.shutdown())
  return m
}

describe('attempt-end', () => {
  it('reports every attempt once, with its outcome, status, latency and whether it is retried', async () => {
    const pods = await servers(2, (i) => (i === 0 ? 503 : 200))
    const pool = new FakePool(
      'web.test',
      pods.map((p) => endpoint(p.name, p.address, p.port)),
    )
    const client = createClient({
      origin: 'http://web.test:8080',
      pool,
      retry: { minTimeout: 1, maxTimeout: 2 },
    })
    closers.push(() => client.close())
    const ends: AttemptEndEvent[] = []
    const order: string[] = []
    client.on('attempt-end', (e) => {
      ends.push(e)
      order.push(`end ${e.attempt}`)
    })
    client.on('retry', (e) => order.push(`retry ${e.attempt}`))
    const res = await client.request('/x')
    expect(res.statusCode).toBe(200)
    await res.body.dump()
    expect(ends).toMatchObject([
      { attempt: 1, outcome: 'status', statusCode: 503, willRetry: true, method: 'GET', path: '/x' },
      { attempt: 2, outcome: 'ok', statusCode: 200, willRetry: false },
    ])
    expect(ends[0]!.endpoint.name).toBe('web-0')
    expect(ends.every((e) => e.latency >= 0 && e.service === 'web.test')).toBe(true)
    // The attempt is over before its retry is announced.
    expect(order).toEqual(['end 1', 'retry 1', 'end 2'])
  })

  it('reports a refused connect with its error and no status', async () => {
    const [pod] = await servers(1)
    const dead = await new TestServer('web-9', '127.0.0.9').listen()
    const deadPort = dead.port
    await dead.close()
    const pool = new FakePool('web.test', [
      endpoint('web-9', '127.0.0.9', deadPort),
      endpoint('web-0', pod!.address, pod!.port),
    ])
    const client = createClient({ origin: 'http://web.test', pool, retry: { minTimeout: 1 } })
    closers.push(() => client.close())
    const ends: AttemptEndEvent[] = []
    client.on('attempt-end', (e) => ends.push(e))
    await (await client.request('/x', { method: 'POST', body: 'x' })).body.dump()
    expect(ends).toMatchObject([
      { outcome: 'connect-refused', statusCode: 0, willRetry: true, error: { code: 'ECONNREFUSED' } },
      { outcome: 'ok', statusCode: 200, willRetry: false },
    ])
  })
})

describe('HTTP metrics', () => {
  it('records http.client.request.duration per attempt with the semantic-convention attributes', async () => {
    const pods = await servers(2, (i) => (i === 0 ? 503 : 200))
    const m = meter()
    const pool = new FakePool(
      'web.test',
      pods.map((p) => endpoint(p.name, p.address, p.port)),
    )
    const client = createClient({
      origin: 'http://web.test:8080',
      pool,
      retry: { minTimeout: 1, maxTimeout: 2 },
      meterProvider: m.provider,
    })
    closers.push(() => client.close())
    for (let i = 0; i < 2; i++) await (await client.request('/x')).body.dump()
    const durations = await m.points('http.client.request.duration')
    expect(durations.every((p) => p.unit === 's')).toBe(true)
    const failed = durations.find((p) => p.attributes['error.type'] === '503')
    expect(failed?.attributes).toEqual({
      'http.request.method': 'GET',
      'http.response.status_code': 503,
      'server.address': 'web.test',
      'server.port': 8080,
      'error.type': '503',
      'headless_lb.endpoint': 'web-0',
    })
    const ok = durations.find((p) => p.attributes['http.response.status_code'] === 200)
    expect(ok?.attributes).toEqual({
      'http.request.method': 'GET',
      'http.response.status_code': 200,
      'server.address': 'web.test',
      'server.port': 8080,
      'headless_lb.endpoint': 'web-1',
    })
    expect(durations.reduce((n, p) => n + p.value, 0)).toBe(client.stats().attempts)
    expect(await m.points('headless_lb.retries', { 'headless_lb.failure.kind': 'status' })).toMatchObject([
      { value: client.stats().retries, attributes: { 'headless_lb.service': 'web.test' } },
    ])
    expect(await m.points('headless_lb.retries.denied')).toMatchObject([{ value: 0 }])
  })

  it('records with the globally registered MeterProvider, and nothing once the client is closed', async () => {
    const [pod] = await servers(1)
    const m = meter()
    metrics.setGlobalMeterProvider(m.provider)
    const client = createClient({ origin: `http://web.test:${pod!.port}`, addresses: [pod!.address] })
    await (await client.request('/x')).body.dump()
    expect(await m.points('http.client.request.duration')).toMatchObject([{ value: 1 }])
    expect(
      await m.points('headless_lb.endpoints', { 'headless_lb.endpoint.state': 'healthy' }),
    ).toMatchObject([{ value: 1, attributes: { 'headless_lb.service': 'web.test' } }])
    await client.close()
    // A closed client and its pool are unsubscribed (and the meter holds no callback of theirs).
    expect(client.dispatcher.listenerCount('attempt-end')).toBe(0)
    expect(client.pool.listenerCount('eject')).toBe(0)
  })

  it('subscribes to nothing without a MeterProvider, or with meterProvider: false', async () => {
    const m = meter()
    const plain = createClient({ origin: 'http://web.test:8080', addresses: ['127.0.0.2'] })
    closers.push(() => plain.close())
    expect(plain.dispatcher.listenerCount('attempt-end')).toBe(0)
    expect(plain.pool.listenerCount('eject')).toBe(0)
    metrics.setGlobalMeterProvider(m.provider)
    const off = createClient({
      origin: 'http://web.test:8080',
      addresses: ['127.0.0.2'],
      meterProvider: false,
    })
    closers.push(() => off.close())
    expect(off.dispatcher.listenerCount('attempt-end')).toBe(0)
    expect(off.pool.listenerCount('eject')).toBe(0)
    expect(await m.collect()).toEqual([])
  })

  it('rejects a meterProvider that is not one, naming the option', () => {
    expect(() =>
      createClient({ origin: 'http://web.test', addresses: ['127.0.0.2'], meterProvider: {} as never }),
    ).toThrow(
      /^meterProvider must be an OpenTelemetry MeterProvider \(an object with getMeter\) or false, got \{\}/,
    )
    expect(() =>
      createPool({ service: 'web', addresses: ['127.0.0.2'], port: 80, meterProvider: 'x' as never }),
    ).toThrow(TypeError)
  })
})
