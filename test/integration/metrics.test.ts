// OpenTelemetry metrics after real requests against the lab (BIND, real pods): the SDK's own
// MeterProvider with its in-memory exporter, a pod answering 503s until it is ejected, a slow one.
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { registerHeadlessMetrics } from '../../examples/prom-client/prom-metrics.js'
import { type Lab, startLab } from '../../lab/index.js'
import type { CheckEvent, EjectEvent, HealthEvent } from '../../src/pool.js'
import { InMemoryMeter } from '../support/in-memory-meter.js'
import { nextEvent } from '../support/next-event.js'
import { labClient } from './http-support.js'

let lab: Lab
const closers: Array<() => Promise<unknown>> = []

beforeAll(async () => {
  lab = await startLab({ ttl: 1 })
})

afterAll(async () => {
  for (const close of closers.reverse()) await close()
  await lab?.close()
})

describe('OpenTelemetry metrics on real pods', () => {
  it('records request durations per pod with the semantic conventions, the ejection of a failing pod, and the pool gauges', async () => {
    const svc = await lab.addService({ name: 'shop', kind: 'headless', replicas: 3 })
    svc.pod('shop-1').fault({ kind: 'errors', ratio: 1, status: 503 })
    const meter = new InMemoryMeter()
    closers.push(() => meter.shutdown())
    const client = labClient(lab, svc, {
      meterProvider: meter.provider,
      // round-robin: the failing pod gets every third request, so 30 reach 3 failures in a row
      // (peak-EWMA shuns it after its first failure, and it is seldom ejected).
      balancer: 'round-robin',
      outlierDetection: { consecutiveFailures: 3 },
      retry: { minTimeout: 1, maxTimeout: 5 },
    })
    closers.push(() => client.close())
    const ejected = nextEvent<EjectEvent>(client.pool, 'eject')
    for (let i = 0; i < 30; i++) await (await client.request('/x')).body.dump()
    expect((await ejected).endpoint.name).toBe('shop-1')

    const durations = await meter.points('http.client.request.duration')
    const byPod = (pod: string) => durations.filter((p) => p.attributes['headless_lb.endpoint'] === pod)
    expect(byPod('shop-1')).toEqual([
      {
        name: 'http.client.request.duration',
        unit: 's',
        attributes: {
          'http.request.method': 'GET',
          'http.response.status_code': 503,
          'server.address': svc.fqdn,
          'server.port': svc.port,
          'error.type': '503',
          'headless_lb.endpoint': 'shop-1',
        },
        value: 3,
        sum: expect.any(Number),
      },
    ])
    for (const pod of ['shop-0', 'shop-2']) {
      expect(byPod(pod).map((p) => p.attributes)).toEqual([
        {
          'http.request.method': 'GET',
          'http.response.status_code': 200,
          'server.address': svc.fqdn,
          'server.port': svc.port,
          'headless_lb.endpoint': pod,
        },
      ])
    }
    expect(durations.reduce((n, p) => n + p.value, 0)).toBe(client.stats().attempts)

    const service = { 'headless_lb.service': svc.fqdn }
    expect(await meter.points('headless_lb.ejections')).toMatchObject([
      {
        value: 1,
        attributes: {
          ...service,
          'headless_lb.endpoint': 'shop-1',
          'headless_lb.ejection.reason': 'consecutive-failures',
        },
      },
    ])
    expect(await meter.points('headless_lb.retries')).toMatchObject([
      { value: 3, attributes: { ...service, 'headless_lb.failure.kind': 'status' } },
    ])
    const states = Object.fromEntries(
      (await meter.points('headless_lb.endpoints', service)).map((p) => [
        p.attributes['headless_lb.endpoint.state'],
        p.value,
      ]),
    )
    expect(states).toEqual({ healthy: 2, probation: 0, unhealthy: 0, ejected: 1, pending: 0 })
    expect(await meter.points('headless_lb.panic', service)).toMatchObject([{ value: 0 }])
    expect(await meter.points('headless_lb.discovery.stale', service)).toMatchObject([{ value: 0 }])
    const [age] = await meter.points('headless_lb.discovery.age', service)
    expect(age?.unit).toBe('s')
    expect(age?.value).toBeGreaterThanOrEqual(0)
    expect(age?.value).toBeLessThan(60)
    const resolutions = await meter.points('headless_lb.discovery.resolutions', {
      ...service,
      'headless_lb.discovery.outcome': 'answer',
    })
    expect(resolutions[0]?.value).toBeGreaterThanOrEqual(1)
  })

  it('counts failed and passed health checks per pod, and DNS errors while the DNS server is down', async () => {
    const svc = await lab.addService({ name: 'cart', kind: 'headless', replicas: 2 })
    svc.pod('cart-1').fault({ kind: 'errors', ratio: 1, status: 500 })
    const meter = new InMemoryMeter()
    closers.push(() => meter.shutdown())
    const client = labClient(lab, svc, {
      meterProvider: meter.provider,
      healthCheck: { http: { path: '/healthz' }, interval: 200, unhealthyThreshold: 1 },
    })
    closers.push(() => client.close())
    const checked = nextEvent(
      client.pool,
      'check',
      (e: CheckEvent) => e.passed && e.endpoint.name === 'cart-0',
    )
    await nextEvent(
      client.pool,
      'health',
      (e: HealthEvent) => e.endpoint.name === 'cart-1' && e.state === 'unhealthy',
    )
    await checked
    const failed = await meter.points('headless_lb.health_checks', {
      'headless_lb.health_check.result': 'failed',
    })
    expect(failed.map((p) => p.attributes['headless_lb.endpoint'])).toEqual(['cart-1'])
    const passed = await meter.points('headless_lb.health_checks', {
      'headless_lb.health_check.result': 'passed',
    })
    expect(passed.map((p) => p.attributes['headless_lb.endpoint'])).toEqual(['cart-0'])

    await lab.stopDns()
    try {
      await nextEvent(client.pool, 'resolution', (e: { outcome: string }) => e.outcome === 'error')
      expect(
        await meter.points('headless_lb.discovery.resolutions', { 'headless_lb.discovery.outcome': 'error' }),
      ).toMatchObject([{ value: expect.any(Number) }])
      expect(await meter.points('headless_lb.discovery.stale')).toMatchObject([{ value: 1 }])
    } finally {
      await lab.startDns()
    }
  })
})

describe('the prom-client example on real pods', () => {
  it('shows the failing pod in its latency histogram, its ejection and the endpoint states', async () => {
    const svc = await lab.addService({ name: 'blog', kind: 'headless', replicas: 3 })
    svc.pod('blog-1').fault({ kind: 'errors', ratio: 1, status: 503 })
    const client = labClient(lab, svc, {
      meterProvider: false,
      // round-robin: the failing pod gets every third request, so 30 reach 3 failures in a row
      // (peak-EWMA shuns it after its first failure, and it is seldom ejected).
      balancer: 'round-robin',
      outlierDetection: { consecutiveFailures: 3 },
      retry: { minTimeout: 1, maxTimeout: 5 },
    })
    closers.push(() => client.close())
    const registry = new Registry()
    const stop = registerHeadlessMetrics(client, registry)
    const ejected = nextEvent<EjectEvent>(client.pool, 'eject')
    for (let i = 0; i < 30; i++) await (await client.request('/x')).body.dump()
    await ejected
    const text = await registry.metrics()
    stop()
    console.log(
      text
        .split('\n')
        .filter((l) => /blog-1|ejected/.test(l) && !l.includes('_bucket'))
        .join('\n'),
    )
    expect(text).toContain(
      `headless_lb_attempt_duration_seconds_count{service="${svc.fqdn}",endpoint="blog-1",method="GET",status="503",outcome="status"} 3`,
    )
    expect(text).toContain(
      `headless_lb_ejections_total{service="${svc.fqdn}",endpoint="blog-1",reason="consecutive-failures"} 1`,
    )
    expect(text).toContain(`headless_lb_endpoints{service="${svc.fqdn}",state="ejected"} 1`)
  })
})
