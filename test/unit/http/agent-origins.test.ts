import { describe, expect, it } from 'vitest'
import { HeadlessAgent, IDLE_SWEEP_MS, MAX_ORIGINS_PER_SERVICE } from '../../../src/http/headless-agent.js'
import { FakeClock, flush } from '../../support/fake-clock.js'
import { FakeResolver } from '../../support/fake-resolver.js'
import { TestServer } from './test-servers.js'

// HeadlessAgent made a pool with its own DNS refresh for every port a URL named, without bound
// (1,000 ports: +94.5 MB heap, 238 DNS queries/s idle). Issue 12, item 8.

const SVC = 'web.test'

function agentWith(address: string) {
  const clock = new FakeClock()
  const resolver = new FakeResolver()
  resolver.set(SVC, { a: [{ address, ttl: 5 }] })
  const agent = new HeadlessAgent(
    { services: { [SVC]: { dns: { search: [], ndots: 1 }, retry: { retries: 0 } } } },
    {
      clock,
      discovery: {
        createResolver: () => resolver,
        random: () => 0,
        resolvConf: { nameservers: [], search: [], ndots: 1 },
      },
    },
  )
  return { agent, clock, resolver }
}

async function get(agent: HeadlessAgent, port: number): Promise<unknown> {
  return agent
    .request({
      origin: `http://${SVC}:${port}`,
      path: '/',
      method: 'GET',
      signal: AbortSignal.timeout(5_000),
    })
    .then(
      async (res) => {
        await res.body.dump()
        return res.statusCode
      },
      (error: unknown) => error,
    )
}

describe('HeadlessAgent origins', () => {
  it('300 ports of one service share one DNS discovery and keep at most MAX_ORIGINS_PER_SERVICE pools', async () => {
    const { agent, resolver } = agentWith('127.0.0.2')
    try {
      // Nothing listens on these ports of 127.0.0.2: each request is refused at once.
      for (let port = 41_000; port < 41_300; port++) await get(agent, port)
      expect(agent.services.length).toBeLessThanOrEqual(MAX_ORIGINS_PER_SERVICE)
      // One A query for the whole service (a refused connect asks for a refresh, which the fake
      // clock never lets run), not one per port.
      expect(resolver.queries.filter((q) => q.startsWith('A '))).toHaveLength(1)
    } finally {
      await agent.close()
    }
  })

  it('each origin reaches the pods on its own port, and an idle one is closed with its discovery', async () => {
    const a = await new TestServer('web-0', '127.0.0.2').listen()
    const b = await new TestServer('web-0', '127.0.0.2').listen()
    const { agent, clock, resolver } = agentWith('127.0.0.2')
    try {
      expect(await get(agent, a.port)).toBe(200)
      expect(await get(agent, b.port)).toBe(200)
      expect(a.count()).toBe(1)
      expect(b.count()).toBe(1)
      expect(agent.services).toHaveLength(2)
      // Only `a` keeps being used: `b` is closed after a sweep period without requests.
      await clock.advanceAndSettle(IDLE_SWEEP_MS)
      expect(await get(agent, a.port)).toBe(200)
      await clock.advanceAndSettle(IDLE_SWEEP_MS)
      await flush()
      expect(agent.services).toHaveLength(1)
      expect(resolver.cancelled).toBe(0) // `a` still reads the shared discovery
      await clock.advanceAndSettle(2 * IDLE_SWEEP_MS)
      await flush()
      expect(agent.services).toHaveLength(0)
      expect(resolver.cancelled).toBe(1) // the last origin closed the shared discovery
      expect(clock.pending).toBe(0) // no sweep, refresh or ready timer left
      // The next request makes the origin again.
      expect(await get(agent, a.port)).toBe(200)
      expect(agent.services).toHaveLength(1)
    } finally {
      await agent.close()
      await a.close()
      await b.close()
    }
    expect(clock.pending).toBe(0)
  })
})
