// headless-lb metrics with prom-client, for applications that expose Prometheus metrics without
// OpenTelemetry: the same figures as the OTel metrics (docs/observability.md), from the client's
// and the pool's events and stats(). Register once per client; call the returned function to stop.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import type { AttemptEndEvent, EjectEvent, HeadlessClient, RetryEvent } from '../../src/index.js'

const STATES = ['healthy', 'probation', 'unhealthy', 'ejected', 'pending'] as const

export function registerHeadlessMetrics(client: HeadlessClient, registry: Registry): () => void {
  const service = client.pool.service
  const duration = new Histogram({
    name: 'headless_lb_attempt_duration_seconds',
    help: 'Attempts on an endpoint, to the response headers or the failure',
    labelNames: ['service', 'endpoint', 'method', 'status', 'outcome'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10],
    registers: [registry],
  })
  const retries = new Counter({
    name: 'headless_lb_retries_total',
    help: 'Retries on another endpoint, by failure kind',
    labelNames: ['service', 'kind'],
    registers: [registry],
  })
  const ejections = new Counter({
    name: 'headless_lb_ejections_total',
    help: 'Outlier-detection ejections, by reason',
    labelNames: ['service', 'endpoint', 'reason'],
    registers: [registry],
  })
  new Gauge({
    name: 'headless_lb_endpoints',
    help: 'Endpoints by state',
    labelNames: ['service', 'state'],
    registers: [registry],
    // Read at scrape time: nothing runs per request.
    collect() {
      const counts = new Map<string, number>(STATES.map((s) => [s, 0]))
      for (const e of client.pool.stats().endpoints) counts.set(e.state, (counts.get(e.state) ?? 0) + 1)
      for (const [state, n] of counts) this.set({ service, state }, n)
    },
  })
  new Gauge({
    name: 'headless_lb_retries_denied',
    help: 'Retries the retry budget denied, since the client was created',
    labelNames: ['service'],
    registers: [registry],
    collect() {
      this.set({ service }, client.stats().retriesDenied)
    },
  })

  const onAttemptEnd = (e: AttemptEndEvent) => {
    const endpoint = e.endpoint.name ?? `${e.endpoint.address}:${e.endpoint.port}`
    duration.observe(
      { service, endpoint, method: e.method, status: String(e.statusCode), outcome: e.outcome },
      e.latency / 1000,
    )
  }
  const onRetry = (e: RetryEvent) => retries.inc({ service, kind: e.kind })
  const onEject = (e: EjectEvent) =>
    ejections.inc({ service, endpoint: e.endpoint.name ?? e.endpoint.address, reason: e.reason })
  client.on('attempt-end', onAttemptEnd)
  client.on('retry', onRetry)
  client.pool.on('eject', onEject)
  return () => {
    client.off('attempt-end', onAttemptEnd)
    client.off('retry', onRetry)
    client.pool.off('eject', onEject)
  }
}
