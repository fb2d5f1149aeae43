/**
 * headless-lb/ioredis against real servers: a Redis 7 primary and a replica (`--replicaof`)
 * published in the lab's DNS as the StatefulSet `cache` with the SRV port name `redis`.
 * One pair for the file (Redis starts in milliseconds, but the failover at the end ends it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Lab, LabService } from '../../lab/api.js'
import { startLab } from '../../lab/index.js'
import { type RedisPair, redisSupport, startRedisPair } from '../../lab/redis.js'
import { createRedisRouter, type RedisRouter, type RedisRouterOptions } from '../../src/ioredis/index.js'
import { until } from '../support/until.js'
import { nextPoolEvent } from './pool-support.js'

const support = redisSupport()
if (!support.supported) console.log(`skipping the ioredis router tests: ${support.reason}`)

const PRIMARY = '127.0.21.1'
const REPLICA = '127.0.21.2'
const PROBE_INTERVAL = 250

describe.skipIf(!support.supported)('headless-lb/ioredis over a Redis primary and replica', () => {
  let lab: Lab | undefined
  let pair: RedisPair | undefined
  let service: LabService
  let routers = 0

  beforeAll(async () => {
    const [startedLab, startedPair] = await Promise.allSettled([
      startLab(),
      startRedisPair({ primaryAddress: PRIMARY, replicaAddress: REPLICA }),
    ])
    if (startedLab.status === 'fulfilled') lab = startedLab.value
    if (startedPair.status === 'fulfilled') pair = startedPair.value
    if (startedLab.status === 'rejected') throw startedLab.reason
    if (startedPair.status === 'rejected') throw startedPair.reason
    service = await lab!.addService({
      name: 'cache',
      kind: 'headless',
      workload: 'statefulset',
      port: 6379,
      ports: [{ name: 'redis', port: 6379 }],
      servePods: false,
      podIps: [PRIMARY, REPLICA],
    })
  })

  afterAll(async () => {
    await Promise.allSettled([pair?.close(), lab?.close()])
  })

  /** A router with its own connection name, so each server's CLIENT LIST shows its sockets. */
  function router(extra: Partial<RedisRouterOptions> = {}): { cache: RedisRouter; name: string } {
    const name = `hlb-test-${++routers}`
    const cache = createRedisRouter({
      service: service.fqdn,
      portName: 'redis',
      dns: { servers: [lab!.dnsServer] },
      primary: { interval: PROBE_INTERVAL },
      redis: { connectionName: name },
      ...extra,
    })
    return { cache, name }
  }

  async function clientsNamed(host: string, name: string): Promise<number> {
    const server = host === PRIMARY ? pair!.primary : pair!.replica
    const list = String(await server.command('CLIENT', 'LIST'))
    return list.split('\n').filter((line) => line.includes(` name=${name} `)).length
  }

  it('finds the primary with ROLE, sends writes there and replica reads to the replica', async () => {
    const { cache } = router()
    try {
      await cache.ready()
      expect(cache.pool.primary?.address).toBe(PRIMARY)
      expect(await cache.primary.set('greeting', 'hello')).toBe('OK')
      expect(await pair!.primary.command('GET', 'greeting')).toBe('hello')
      await pair!.waitForReplication()
      for (let i = 0; i < 10; i++) {
        // CONFIG GET bind names the server that answered; ROLE says what it is.
        expect(await cache.replica.config('GET', 'bind')).toEqual(['bind', REPLICA])
        expect((await cache.replica.role())[0]).toBe('slave')
        expect(await cache.replica.get('greeting')).toBe('hello')
      }
      expect(await cache.primary.config('GET', 'bind')).toEqual(['bind', PRIMARY])
    } finally {
      await cache.close()
    }
  })

  it("counts each command in flight on its endpoint, and a caller's error as a success", async () => {
    const { cache } = router({ readPreference: 'replica' })
    try {
      await cache.ready()
      await cache.primary.set('a-string', 'x')
      await expect(cache.primary.lpush('a-string', 'y')).rejects.toThrow(/WRONGTYPE/)
      await Promise.all([cache.replica.ping(), cache.replica.ping(), cache.replica.ping()])
      // A getter read with no command frees its slot at the end of the tick.
      expect(cache.replica.status).toBe('ready')
      await Promise.resolve()
      const stats = cache.stats()
      const primary = stats.endpoints.find((e) => e.endpoint.address === PRIMARY)!
      const replica = stats.endpoints.find((e) => e.endpoint.address === REPLICA)!
      expect(primary).toMatchObject({ requests: 2, failures: 0, inFlight: 0, role: 'primary' })
      expect(replica).toMatchObject({ requests: 4, failures: 0, inFlight: 0, role: 'replica' })
      expect(primary.ewma).toBeGreaterThan(0)
      // A write sent to a replica by mistake is a failure of that endpoint (READONLY).
      await expect(cache.replica.set('k', 'v')).rejects.toThrow(/READONLY/)
      expect(cache.stats().endpoints.find((e) => e.endpoint.address === REPLICA)!.failures).toBe(1)
    } finally {
      await cache.close()
    }
  })

  it("disconnects a removed pod's client, and connects again when it is back", async () => {
    const { cache, name } = router()
    try {
      await cache.ready()
      await until(
        `1 client(s) named ${name} on ${REPLICA}`,
        async () => (await clientsNamed(REPLICA, name)) === 1,
        5_000,
      )
      const removed = nextPoolEvent(cache.pool, 'change', (c: { removed: unknown[] }) => c.removed.length > 0)
      await service.scale(1)
      await removed
      await until(
        `0 client(s) named ${name} on ${REPLICA}`,
        async () => (await clientsNamed(REPLICA, name)) === 0,
        5_000,
      )
      expect(cache.stats().connections.map((c) => c.endpoint.address)).toEqual([PRIMARY])
      const added = nextPoolEvent(cache.pool, 'change', (c: { added: unknown[] }) => c.added.length > 0)
      await service.scale(2)
      await added
      await until(
        `1 client(s) named ${name} on ${REPLICA}`,
        async () => (await clientsNamed(REPLICA, name)) === 1,
        5_000,
      )
    } finally {
      await cache.close()
    }
  })

  it('close() quits every client and leaves no socket; it is idempotent', async () => {
    const { cache, name } = router()
    await cache.ready()
    await cache.primary.set('k', 'v')
    await cache.replica.get('k')
    expect(await clientsNamed(PRIMARY, name)).toBe(1)
    await Promise.all([cache.close(), cache.quit()])
    await cache[Symbol.asyncDispose]()
    for (const connection of cache.stats().connections) expect(connection.status).toBe('end')
    expect(cache.stats().connections).toEqual([])
    // The server sees the close a moment after the client's socket is gone.
    await until(
      `0 client(s) named ${name} on ${PRIMARY}`,
      async () => (await clientsNamed(PRIMARY, name)) === 0,
      5_000,
    )
    await until(
      `0 client(s) named ${name} on ${REPLICA}`,
      async () => (await clientsNamed(REPLICA, name)) === 0,
      5_000,
    )
    expect(() => cache.primary).toThrow(/closed/)
    await expect(cache.ready()).rejects.toThrow(/closed/)
  })

  it('follows a failover: the primary dies, REPLICAOF NO ONE promotes the replica, writes follow', async () => {
    const { cache } = router()
    try {
      await cache.ready()
      expect(cache.pool.primary?.address).toBe(PRIMARY)
      const writes: Array<{ ok: boolean; server?: string; error?: string }> = []
      let writing = true
      let seq = 0
      let firstOnNew: number | undefined
      const writer = (async () => {
        while (writing) {
          const n = ++seq
          try {
            const client = cache.primary
            await client.set(`seq:${n}`, String(n))
            const server = client.options.host!
            writes.push({ ok: true, server })
            if (server === REPLICA && firstOnNew === undefined) firstOnNew = performance.now()
          } catch (error) {
            writes.push({ ok: false, error: (error as Error).message })
          }
          // Pace the writer so it leaves the CPU to the servers; not a wait for anything.
          await new Promise((resolve) => setTimeout(resolve, 10))
        }
      })()
      await until('10 writes before the failover', () => writes.length >= 10, 5_000)
      await pair!.primary.stop()
      const stoppedAt = performance.now()
      await pair!.replica.promote()
      const promotedAt = performance.now()
      // The deadline the issue sets: writes follow within the probe interval + 1 s.
      const followed = await until(
        'a write on the new primary',
        () => firstOnNew !== undefined,
        PROBE_INTERVAL + 1_000,
      ).then(
        () => true,
        () => false,
      )
      writing = false
      await writer
      const failed = writes.filter((w) => !w.ok)
      console.log(
        `[redis failover] writes on the new primary ${(firstOnNew! - promotedAt).toFixed(0)} ms after REPLICAOF NO ONE ` +
          `(${(firstOnNew! - stoppedAt).toFixed(0)} ms after the primary stopped; probe interval ${PROBE_INTERVAL} ms); ` +
          `${writes.length} writes, ${failed.length} failed: ${[...new Set(failed.map((f) => f.error))].join('; ')}`,
      )
      expect(followed).toBe(true)
      expect(cache.pool.primary?.address).toBe(REPLICA)
      // No write ever reached a replica: none was refused with READONLY.
      expect(failed.filter((f) => /READONLY/.test(f.error ?? ''))).toEqual([])
      expect(await cache.primary.set('after', 'yes')).toBe('OK')
      expect(await pair!.replica.command('GET', 'after')).toBe('yes')
    } finally {
      await cache.close()
    }
  })
})
