import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Lab, type LabService, startLab } from '../../lab/index.js'
import type { HealthEvent, Pool } from '../../src/pool.js'
import { createPool } from '../../src/pool.js'
import { until } from '../support/until.js'
import { nextPoolEvent, picks } from './pool-support.js'

let lab: Lab
let svc: LabService
let pool: Pool

beforeAll(async () => {
  lab = await startLab({ ttl: 1 })
  svc = await lab.addService({ name: 'web', kind: 'headless', replicas: 3 })
  pool = createPool({
    service: svc.fqdn,
    portName: 'http',
    dns: { servers: [lab.dnsServer], search: [], ndots: 1 },
    healthCheck: {
      http: { path: '/healthz' },
      interval: 150,
      timeout: 300,
      unhealthyThreshold: 2,
      jitter: 0.1,
    },
    // Two of three pods may be down in these scenarios; keep the checks' verdict visible.
    panicThreshold: 0,
  })
  await pool.ready()
})

afterAll(async () => {
  await pool?.close()
  await lab?.close()
})

const becomes = (name: string, state: HealthEvent['state']) =>
  nextPoolEvent<HealthEvent>(pool, 'health', (e) => e.endpoint.name === name && e.state === state)

describe('active HTTP health checks against real pods', () => {
  it('probe every pod on /healthz, which the pods count apart from traffic', async () => {
    const web0 = svc.pod('web-0')
    const before = web0.healthChecks
    await until('two more checks of web-0', () => web0.healthChecks >= before + 2)
    expect(web0.requests.total).toBe(0)
  })

  it('a pod answering 503 leaves the rotation, and returns when it recovers', async () => {
    const web1 = svc.pod('web-1')
    const out = becomes('web-1', 'unhealthy')
    web1.fault({ kind: 'errors', ratio: 1, status: 503 })
    const event = await out
    expect(event).toMatchObject({ previous: 'healthy', reason: 'check-failed' })
    expect(picks(pool, 30)).not.toContain('web-1')
    const back = becomes('web-1', 'healthy')
    web1.fault({ kind: 'none' })
    await back
    expect(picks(pool, 30)).toContain('web-1')
  })

  it('a pod that hangs fails its checks at the timeout', async () => {
    const web2 = svc.pod('web-2')
    const out = becomes('web-2', 'unhealthy')
    web2.fault({ kind: 'hang' })
    await out
    expect(picks(pool, 30)).not.toContain('web-2')
    expect(
      pool.stats().endpoints.find((e) => e.endpoint.name === 'web-2')!.checksFailed,
    ).toBeGreaterThanOrEqual(2)
    const back = becomes('web-2', 'healthy')
    web2.fault({ kind: 'none' })
    await back
  })

  it('a pod that dies (connects refused, DNS unchanged) leaves the rotation; restarted, it returns', async () => {
    const web0 = svc.pod('web-0')
    const out = becomes('web-0', 'unhealthy')
    await web0.kill()
    await out
    expect(pool.endpoints.map((e) => e.name)).toContain('web-0') // DNS still lists it
    expect(picks(pool, 30)).not.toContain('web-0')
    const back = becomes('web-0', 'healthy')
    await web0.restart()
    await back
    expect(new Set(picks(pool, 30))).toEqual(new Set(['web-0', 'web-1', 'web-2']))
  })

  it('with every pod failing, picks fail with NoEndpointsError naming the service (panic off)', async () => {
    const outs = ['web-0', 'web-1', 'web-2'].map((name) => becomes(name, 'unhealthy'))
    for (const pod of svc.pods) pod.fault({ kind: 'errors', ratio: 1 })
    await Promise.all(outs)
    expect(() => pool.pick()).toThrow(new RegExp(`${svc.fqdn}.*3 unhealthy`))
    const backs = ['web-0', 'web-1', 'web-2'].map((name) => becomes(name, 'healthy'))
    for (const pod of svc.pods) pod.fault({ kind: 'none' })
    await Promise.all(backs)
  })
})
