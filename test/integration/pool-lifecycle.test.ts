import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Lab, startLab } from '../../lab/index.js'
import type { Endpoint } from '../../src/endpoint.js'
import { ClosedError } from '../../src/errors.js'
import { createPool } from '../../src/pool.js'
import { trackingClock } from '../support/tracking-clock.js'
import { until } from '../support/until.js'

let lab: Lab

beforeAll(async () => {
  lab = await startLab({ ttl: 1 })
})

afterAll(async () => {
  await lab?.close()
})

/** The real clock, counting timers that are set and not yet fired or cleared. */
function sockets(): number {
  return process.getActiveResourcesInfo().filter((r) => /TCP/.test(r)).length
}

describe('pool lifecycle', () => {
  it('close() stops discovery, health checks, probes and ejection timers, even with checks in flight', async () => {
    const svc = await lab.addService({ name: 'life', kind: 'headless', replicas: 3 })
    svc.pod('life-2').fault({ kind: 'hang' }) // its HTTP check is in flight at close
    const before = sockets()
    const clock = trackingClock()
    let probesAfterClose = 0
    let closed = false
    const probe = async (_endpoint: Endpoint, signal: AbortSignal): Promise<'primary' | 'replica'> => {
      if (closed) probesAfterClose++
      await new Promise((resolve) => setTimeout(resolve, 50))
      if (signal.aborted) throw signal.reason
      return 'replica'
    }
    const pool = createPool(
      {
        service: svc.fqdn,
        portName: 'http',
        dns: { servers: [lab.dnsServer], search: [], ndots: 1 },
        healthCheck: { http: { path: '/healthz' }, interval: 100, timeout: 5_000 },
        primary: { probe, interval: 100 },
      },
      { clock },
    )
    await pool.ready()
    // An ejection timer too.
    pool.acquire({ exclude: pool.endpoints.filter((e) => e.name !== 'life-0') }).release({
      ok: false,
      kind: 'connect-refused',
    })
    await until('checks running', () => svc.pod('life-1').healthChecks >= 2)
    await pool.close()
    closed = true
    expect(clock.live.size).toBe(0)
    await until('health-check sockets closed', () => sockets() <= before, 5_000)
    expect(() => pool.pick()).toThrow(ClosedError)
    await expect(pool.ready()).rejects.toBeInstanceOf(ClosedError)
    await pool.close() // idempotent
    const checks = svc.pods.map((p) => p.healthChecks)
    // Nothing runs after close (an absence, so a bounded wait: several check intervals).
    await new Promise((resolve) => setTimeout(resolve, 400))
    expect(svc.pods.map((p) => p.healthChecks)).toEqual(checks)
    expect(probesAfterClose).toBe(0)
    svc.pod('life-2').fault({ kind: 'none' })
  })
})
