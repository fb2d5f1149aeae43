import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Lab, startLab } from '../../lab/index.js'
import { DeadlineExceededError } from '../../src/errors.js'
import type { HeadlessClient } from '../../src/http/headless-client.js'
import type { EjectEvent } from '../../src/pool.js'
import { nextEvent } from '../support/next-event.js'
import { until } from '../support/until.js'
import { labClient } from './http-support.js'

let lab: Lab
const clients: HeadlessClient[] = []

beforeAll(async () => {
  lab = await startLab({ ttl: 1 })
})
afterAll(async () => {
  for (const c of clients) await c.close()
  await lab?.close()
})

async function get(client: HeadlessClient, deadline: number): Promise<string> {
  const res = await client.request('/', { signal: AbortSignal.timeout(deadline) })
  await res.body.dump()
  expect(res.statusCode).toBe(200)
  return String(res.headers['x-pod'])
}

describe('gray failures: pods that answer late or never', () => {
  it('a hung pod: once stalled, round-robin sends it nothing, and its deadline timeouts eject it', async () => {
    const svc = await lab.addService({ name: 'stuck', kind: 'headless', replicas: 4 })
    const client = labClient(lab, svc, {
      balancer: 'round-robin',
      outlierDetection: { consecutiveFailures: 1 },
    })
    clients.push(client)
    for (let i = 0; i < 20; i++) await get(client, 2_000)
    const hung = svc.pod('stuck-2')
    hung.fault({ kind: 'hang' })
    const ejected = nextEvent<EjectEvent>(client.pool, 'eject', (e) => e.endpoint.name === 'stuck-2')
    // Four at once: round-robin gives one to each pod, so one waits on the hung pod.
    const first = Array.from({ length: 4 }, () => get(client, 1_500).catch((e: unknown) => e))
    const stalled = () => client.pool.stats().endpoints.find((e) => e.endpoint.name === 'stuck-2')!
    await until('the hung pod to be stalled', () => stalled().stalled)
    const mark = hung.requests.total
    const served: string[] = []
    for (let i = 0; i < 20; i++) served.push(await get(client, 1_500))
    expect(served).not.toContain('stuck-2')
    expect(hung.requests.total).toBe(mark)
    const outcomes = await Promise.all(first)
    expect(outcomes.filter((o) => o instanceof DeadlineExceededError)).toHaveLength(1)
    // The caller's deadline ran out on a request sent to the pod: that is the pod's timeout.
    expect((await ejected).reason).toBe('consecutive-failures')
    expect(stalled()).toMatchObject({ state: 'ejected', failures: 1, waiting: 0, inFlight: 0 })
  })
})
