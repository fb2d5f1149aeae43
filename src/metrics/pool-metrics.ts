import type { ResolutionEvent } from '../discovery/endpoint-source.js'
import type { EndpointHealth } from '../health/endpoint-state.js'
import type { CheckEvent, EjectEvent, Pool } from '../pool.js'
import { VERSION } from '../version.js'
import { endpointLabel } from './endpoint-label.js'
import { type BatchCallback, METER_NAME, type MeterProviderLike } from './meter-provider.js'

const STATES: ReadonlyArray<EndpointHealth> = ['healthy', 'probation', 'unhealthy', 'ejected', 'pending']

/**
 * Records a pool's metrics (docs/observability.md) through `provider`, by listening to its
 * events and reading `stats()` at collection time: nothing runs per request. Returns the
 * function that stops it (the pool calls it on close).
 */
export function recordPoolMetrics(pool: Pool, provider: MeterProviderLike): () => void {
  const meter = provider.getMeter(METER_NAME, VERSION)
  const service = pool.service
  const endpoints = meter.createObservableGauge('headless_lb.endpoints', {
    description: 'Endpoints of the service by state (healthy, probation, unhealthy, ejected, pending)',
    unit: '{endpoint}',
  })
  const panic = meter.createObservableGauge('headless_lb.panic', {
    description: '1 while the pool is in panic mode (routing across all endpoints, fit or not)',
  })
  const stale = meter.createObservableGauge('headless_lb.discovery.stale', {
    description: '1 while discovery serves its last good answer after DNS errors',
  })
  const age = meter.createObservableGauge('headless_lb.discovery.age', {
    description: 'Time since discovery last answered: the age of the endpoint set',
    unit: 's',
  })
  const prevented = meter.createObservableCounter('headless_lb.ejections.prevented', {
    description: 'Ejections outlier detection wanted but maxEjectionPercent prevented',
    unit: '{ejection}',
  })
  const ejections = meter.createCounter('headless_lb.ejections', {
    description: 'Endpoints ejected by outlier detection, by reason',
    unit: '{ejection}',
  })
  const checks = meter.createCounter('headless_lb.health_checks', {
    description: 'Active health checks, by result',
    unit: '{check}',
  })
  const resolutions = meter.createCounter('headless_lb.discovery.resolutions', {
    description: 'DNS resolutions of the service, by outcome (answer, empty, error)',
    unit: '{resolution}',
  })

  const base = { 'headless_lb.service': service }
  const observe: BatchCallback = (result) => {
    const stats = pool.stats()
    const counts: Record<string, number> = { healthy: 0, probation: 0, unhealthy: 0, ejected: 0, pending: 0 }
    for (const e of stats.endpoints) counts[e.state] = (counts[e.state] ?? 0) + 1
    // Every state every time, zeros included: a series that vanishes reads as "no data", not 0.
    for (const state of STATES) {
      result.observe(endpoints, counts[state]!, { ...base, 'headless_lb.endpoint.state': state })
    }
    result.observe(panic, stats.panic ? 1 : 0, base)
    result.observe(stale, stats.stale ? 1 : 0, base)
    if (stats.endpointsAge !== undefined) result.observe(age, stats.endpointsAge / 1000, base)
    result.observe(prevented, stats.ejectionsPrevented, base)
  }
  const observables = [endpoints, panic, stale, age, prevented]
  meter.addBatchObservableCallback(observe, observables)

  const onEject = (event: EjectEvent): void => {
    ejections.add(1, {
      ...base,
      'headless_lb.endpoint': endpointLabel(event.endpoint),
      'headless_lb.ejection.reason': event.reason,
    })
  }
  const onCheck = (event: CheckEvent): void => {
    checks.add(1, {
      ...base,
      'headless_lb.endpoint': endpointLabel(event.endpoint),
      'headless_lb.health_check.result': event.passed ? 'passed' : 'failed',
    })
  }
  const onResolution = (event: ResolutionEvent): void => {
    resolutions.add(1, { ...base, 'headless_lb.discovery.outcome': event.outcome })
  }
  pool.on('eject', onEject)
  pool.on('check', onCheck)
  pool.on('resolution', onResolution)
  return () => {
    meter.removeBatchObservableCallback(observe, observables)
    pool.off('eject', onEject)
    pool.off('check', onCheck)
    pool.off('resolution', onResolution)
  }
}
