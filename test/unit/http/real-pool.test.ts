import { afterEach, describe, expect, it } from 'vitest'
import { createClient } from '../../../src/http/create-client.js'
import { until } from '../../support/until.js'
import { TestServer } from './test-servers.js'

const closers: Array<{ close(): Promise<void> }> = []
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c.close()
})

describe('createClient with the real pool (static addresses)', () => {
  it('balances per request and ejects a pod at its first refused connect, losing no request', async () => {
    const pods: TestServer[] = []
    for (let i = 0; i < 3; i++) {
      const pod = await new TestServer(`web-${i}`, `127.0.0.${i + 2}`).listen(0)
      pods.push(pod)
      closers.push(pod)
    }
    const client = createClient({
      origin: 'http://web.test',
      addresses: pods.map((p) => `${p.address}:${p.port}`),
      balancer: 'round-robin',
    })
    closers.push(client)
    for (let i = 0; i < 30; i++) await (await client.request('/')).body.dump()
    expect(pods.map((p) => p.count())).toEqual([10, 10, 10])

    await pods[1]!.close()
    const ejected: unknown[] = []
    client.pool.on('eject', (e) => ejected.push(e))
    for (let i = 0; i < 30; i++) {
      const res = await client.request('/')
      expect(res.statusCode).toBe(200)
      await res.body.dump()
    }
    expect(ejected).toHaveLength(1)
    expect(pods[0]!.count() + pods[2]!.count()).toBe(50)
    // One retry for the refused connect that ejects the pod; one more when the first request to
    // reach the dead pod went out on an idle keep-alive socket the pod had closed (a reset, retried
    // for a GET but not evidence enough to eject): which of the two comes first is a race.
    expect(client.stats().failures).toBe(0)
    expect(client.stats().retries).toBeGreaterThanOrEqual(1)
    expect(client.stats().retries).toBeLessThanOrEqual(2)
    const stats = client.pool.stats()
    expect(stats.endpoints.find((e) => e.endpoint.address === '127.0.0.3')).toMatchObject({ inFlight: 0 })
  })

  it('a caller that cancels is not the pod failing: cancelled requests eject nothing', async () => {
    const pods: TestServer[] = []
    for (let i = 0; i < 3; i++) {
      const slow = new TestServer(`web-${i}`, `127.0.0.${i + 2}`, (_req, res) => {
        setTimeout(() => res.end('late'), 200)
      })
      pods.push(await slow.listen(0))
      closers.push(slow)
    }
    const client = createClient({
      origin: 'http://web.test',
      addresses: pods.map((p) => `${p.address}:${p.port}`),
      outlierDetection: { consecutiveFailures: 2 },
    })
    closers.push(client)
    const ejected: unknown[] = []
    client.pool.on('eject', (e) => ejected.push(e))
    // An explicit cancel (any reason but a timeout), once every request has reached its pod.
    const cancel = new AbortController()
    const requests = Array.from({ length: 15 }, () => client.request('/', { signal: cancel.signal }))
    await until('every request to reach its pod', () => pods.reduce((n, p) => n + p.count(), 0) === 15)
    cancel.abort(new Error('the user navigated away'))
    const outcomes = await Promise.allSettled(requests)
    expect(outcomes.every((o) => o.status === 'rejected')).toBe(true)
    expect(ejected).toEqual([])
    for (const e of client.pool.stats().endpoints) {
      expect(e).toMatchObject({ failures: 0, consecutiveFailures: 0, inFlight: 0 })
    }
  })

  it("a caller's deadline that runs out on a pod that never answers counts as that pod's timeout", async () => {
    const hung = new TestServer('web-0', '127.0.0.2', () => {})
    const fine = new TestServer('web-1', '127.0.0.3')
    for (const pod of [hung, fine]) {
      await pod.listen(0)
      closers.push(pod)
    }
    const client = createClient({
      origin: 'http://web.test',
      addresses: [hung, fine].map((p) => `${p.address}:${p.port}`),
      balancer: 'round-robin',
      outlierDetection: { consecutiveFailures: 2 },
      stallDetection: false,
    })
    closers.push(client)
    const ejected: Array<{ endpoint: { address: string }; reason: string }> = []
    client.pool.on('eject', (e) => ejected.push(e))
    // Long enough that the answering pod always answers within it, even on a loaded 2-core CI
    // machine (at 100 ms, all four timed out there at load 12); the hung pod never answers.
    const deadline = 1_000
    const outcomes = await Promise.allSettled(
      Array.from({ length: 4 }, () => client.request('/', { signal: AbortSignal.timeout(deadline) })),
    )
    // Round-robin sent two to each pod: the two on the hung pod ran out of time.
    expect(outcomes.filter((o) => o.status === 'rejected')).toHaveLength(2)
    expect(ejected).toMatchObject([{ endpoint: { address: '127.0.0.2' }, reason: 'consecutive-failures' }])
    const stats = client.pool.stats().endpoints.find((e) => e.endpoint.address === '127.0.0.2')!
    expect(stats).toMatchObject({ failures: 2, inFlight: 0, waiting: 0 })
    // The time waited is the latency sample (censored: the answer would have come later, if ever).
    expect(stats.ewma).toBeGreaterThanOrEqual(deadline * 0.9)
  })
})
