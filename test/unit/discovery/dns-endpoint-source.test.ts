import { describe, expect, it } from 'vitest'
import { createEndpointSource } from '../../../src/discovery/create-endpoint-source.js'
import type { DiscoveryOptions } from '../../../src/discovery/discovery-options.js'
import type { EndpointChange } from '../../../src/endpoint.js'
import { ClosedError, ResolutionError } from '../../../src/errors.js'
import { FakeClock, flush } from '../../support/fake-clock.js'
import { FakeResolver } from '../../support/fake-resolver.js'

const SVC = 'web.default.svc.cluster.local'

/** Creates a source over a fake zone; `prepare` fills the zone before the first query. */
function setup(
  options: { [K in keyof DiscoveryOptions]?: DiscoveryOptions[K] | undefined } = {},
  prepare: (resolver: FakeResolver) => void = () => {},
  random = () => 0,
) {
  const clock = new FakeClock()
  const resolver = new FakeResolver()
  prepare(resolver)
  const source = createEndpointSource(
    { service: SVC, port: 8080, dns: { search: [], ndots: 1 }, ...options } as DiscoveryOptions,
    { clock, random, createResolver: () => resolver, resolvConf: { nameservers: [], search: [], ndots: 1 } },
  )
  const changes: EndpointChange[] = []
  const errors: Error[] = []
  source.on('change', (c) => changes.push(c))
  source.on('error', (e) => errors.push(e))
  return { clock, resolver, source, changes, errors }
}

const a = (...addresses: string[]) => ({ a: addresses.map((address) => ({ address, ttl: 5 })) })

function statefulSet(resolver: FakeResolver, ips: string[], ttl = 5) {
  resolver.set(`_http._tcp.${SVC}`, {
    srv: ips.map((_, i) => ({ name: `web-${i}.${SVC}`, port: 8080, priority: 0, weight: 100 })),
  })
  ips.forEach((ip, i) => {
    resolver.set(`web-${i}.${SVC}`, { a: [{ address: ip, ttl }] })
  })
}

describe('DNS endpoint source', () => {
  it('resolves A records into endpoints known by address:port', async () => {
    const { source, changes } = setup({}, (r) => {
      r.set(SVC, a('127.0.10.2', '127.0.10.1'))
    })
    await source.ready()
    expect(source.endpoints.map((e) => e.id)).toEqual(['127.0.10.1:8080', '127.0.10.2:8080'])
    expect(source.endpoints[0]).toEqual({
      id: '127.0.10.1:8080',
      address: '127.0.10.1',
      family: 4,
      port: 8080,
    })
    expect(changes).toHaveLength(1)
    expect(source.stale).toBe(false)
  })

  it('refreshes when the TTL expires, clamped to [minRefresh, maxRefresh], with jitter', async () => {
    const { clock, resolver, source } = setup(
      {},
      (r) => {
        r.set(SVC, a('127.0.10.1'))
      },
      () => 0,
    )
    await source.ready()
    expect(clock.nextDelay()).toBe(5000)
    resolver.set(SVC, { a: [{ address: '127.0.10.1', ttl: 0 }] })
    await clock.advanceAndSettle(5000)
    expect(resolver.queries).toHaveLength(2)
    // TTL 0 -> the floor, minRefresh (spread upwards at the floor).
    expect(clock.nextDelay()).toBe(1000)
    resolver.set(SVC, { a: [{ address: '127.0.10.1', ttl: 3600 }] })
    await clock.advanceAndSettle(1000)
    expect(clock.nextDelay()).toBe(30_000)
  })

  it('spreads refreshes with the injected random', async () => {
    const { clock, source } = setup(
      {},
      (r) => {
        r.set(SVC, { a: [{ address: '127.0.10.1', ttl: 10 }] })
      },
      () => 0.5,
    )
    await source.ready()
    // 10% jitter, early: 10 s - 0.5 * 1 s.
    expect(clock.nextDelay()).toBe(9500)
  })

  it('reports SRV endpoints with pod names, ordinals, priority and weight', async () => {
    const { source } = setup({ port: undefined, portName: 'http' }, (r) => {
      statefulSet(r, ['127.0.10.1', '127.0.10.2', '127.0.10.3'])
    })
    await source.ready()
    expect(source.endpoints.map((e) => [e.id, e.name, e.ordinal, e.address])).toEqual([
      [`web-0.${SVC}`, 'web-0', 0, '127.0.10.1'],
      [`web-1.${SVC}`, 'web-1', 1, '127.0.10.2'],
      [`web-2.${SVC}`, 'web-2', 2, '127.0.10.3'],
    ])
    expect(source.endpoints[0]).toMatchObject({
      hostname: `web-0.${SVC}`,
      priority: 0,
      weight: 100,
      port: 8080,
    })
  })

  it('caches SRV targets by TTL: an early refresh asks only the SRV record', async () => {
    const { clock, resolver, source } = setup({ port: undefined, portName: 'http' }, (r) => {
      statefulSet(r, ['127.0.10.1', '127.0.10.2'], 30)
    })
    await source.ready()
    resolver.queries.length = 0
    await clock.advanceAndSettle(1000)
    source.refresh()
    await clock.advanceAndSettle(0)
    expect(resolver.queries).toEqual([`SRV _http._tcp.${SVC}`])
  })

  it('treats SRV targets named after the service (ClusterIP) or a dashed IP (Deployment) as unnamed', async () => {
    const { source } = setup({ port: undefined, portName: 'http' }, (r) => {
      r.set(`_http._tcp.${SVC}`, {
        srv: [
          { name: SVC, port: 80, priority: 0, weight: 100 },
          { name: `127-0-10-5.${SVC}`, port: 8080, priority: 0, weight: 100 },
        ],
      })
      r.set(SVC, a('127.0.11.1'))
      r.set(`127-0-10-5.${SVC}`, a('127.0.10.5'))
    })
    await source.ready()
    expect(source.endpoints.map((e) => [e.id, e.hostname, e.name])).toEqual([
      ['127.0.10.5:8080', undefined, undefined],
      ['127.0.11.1:80', undefined, undefined],
    ])
  })

  it('reports a pod that keeps its name but gets a new IP as updated, with the same id', async () => {
    const { clock, resolver, source, changes } = setup({ port: undefined, portName: 'http' }, (r) => {
      statefulSet(r, ['127.0.10.1', '127.0.10.2'])
    })
    await source.ready()
    resolver.set(`web-1.${SVC}`, a('127.0.10.9'))
    await clock.advanceAndSettle(5000)
    expect(changes).toHaveLength(2)
    const change = changes[1]!
    expect(change.added).toEqual([])
    expect(change.removed).toEqual([])
    expect(change.updated).toHaveLength(1)
    expect(change.updated[0]!.previous).toMatchObject({ id: `web-1.${SVC}`, address: '127.0.10.2' })
    expect(change.updated[0]!.current).toMatchObject({ id: `web-1.${SVC}`, address: '127.0.10.9' })
  })

  it('emits change only on real changes', async () => {
    const { clock, resolver, source, changes } = setup({}, (r) => {
      r.set(SVC, a('127.0.10.1', '127.0.10.2'))
    })
    await source.ready()
    resolver.set(SVC, a('127.0.10.2', '127.0.10.1', '127.0.10.1'))
    await clock.advanceAndSettle(5000)
    await clock.advanceAndSettle(5000)
    expect(resolver.queries).toHaveLength(3)
    expect(changes).toHaveLength(1)
  })

  it('keeps the last good set through SERVFAIL, backs off, and recovers', async () => {
    const { clock, resolver, source, changes, errors } = setup(
      {},
      (r) => {
        r.set(SVC, { a: [{ address: '127.0.10.1', ttl: 1 }] })
      },
      () => 0.5,
    )
    await source.ready()
    const before = source.endpoints
    resolver.failWith = 'ESERVFAIL'
    await clock.advanceAndSettle(1050)
    expect(source.stale).toBe(true)
    expect(source.endpoints).toBe(before)
    expect(errors).toHaveLength(1)
    const error = errors[0] as ResolutionError
    expect(error).toBeInstanceOf(ResolutionError)
    expect(error).toMatchObject({
      code: 'HLB_ERR_RESOLUTION',
      service: SVC,
      query: `A ${SVC}`,
      dnsCode: 'ESERVFAIL',
    })
    // Backoff with random 0.5 (no spread): 1000, 1600, 2560, ... capped at maxRefresh.
    const delays: number[] = []
    for (let i = 0; i < 10; i++) {
      const delay = clock.nextDelay()!
      delays.push(Math.round(delay))
      await clock.advanceAndSettle(delay)
    }
    expect(delays.slice(0, 4)).toEqual([1000, 1600, 2560, 4096])
    expect(delays.at(-1)).toBe(30_000)
    expect(source.stale).toBe(true)
    resolver.failWith = undefined
    await clock.advanceAndSettle(clock.nextDelay()!)
    expect(source.stale).toBe(false)
    expect(changes).toHaveLength(1)
  })

  it('treats timeouts and refused queries as failures too, never as "no pods"', async () => {
    for (const code of ['ETIMEOUT', 'ECONNREFUSED', 'EREFUSED']) {
      const { clock, resolver, source, errors } = setup({}, (r) => {
        r.set(SVC, a('127.0.10.1'))
      })
      await source.ready()
      resolver.failWith = code
      await clock.advanceAndSettle(5000)
      expect(source.endpoints).toHaveLength(1)
      expect((errors[0] as ResolutionError).dnsCode).toBe(code)
      await source.close()
    }
  })

  it('empties the set only when a second answer confirms NXDOMAIN', async () => {
    const { clock, resolver, source, changes, errors } = setup({}, (r) => {
      r.set(SVC, a('127.0.10.1'))
    })
    await source.ready()
    resolver.zone.delete(SVC)
    await clock.advanceAndSettle(5000)
    expect(source.endpoints).toHaveLength(1)
    expect(changes).toHaveLength(1)
    expect(clock.nextDelay()).toBe(1000)
    await clock.advanceAndSettle(1000)
    expect(source.endpoints).toEqual([])
    expect(changes).toHaveLength(2)
    expect(changes[1]!.removed).toHaveLength(1)
    expect(errors).toEqual([])
  })

  it('does not empty the set when pods come back between the two answers', async () => {
    const { clock, resolver, source, changes } = setup({}, (r) => {
      r.set(SVC, a('127.0.10.1'))
    })
    await source.ready()
    resolver.set(SVC, { a: [] })
    await clock.advanceAndSettle(5000)
    resolver.set(SVC, a('127.0.10.1'))
    await clock.advanceAndSettle(1000)
    resolver.set(SVC, { a: [] })
    await clock.advanceAndSettle(5000)
    expect(source.endpoints).toHaveLength(1)
    expect(changes).toHaveLength(1)
  })

  it('is ready({ allowEmpty: true }) with an empty set when the service has no ready pods from the start', async () => {
    const { source, changes } = setup()
    await source.ready({ allowEmpty: true })
    expect(source.endpoints).toEqual([])
    expect(changes).toEqual([])
  })

  it('expands a short name through the search list, like a pod resolver', async () => {
    const { resolver, source } = setup(
      {
        service: 'web',
        dns: { search: ['default.svc.cluster.local', 'svc.cluster.local', 'cluster.local'], ndots: 5 },
      },
      (r) => r.set(SVC, a('127.0.10.1')),
    )
    await source.ready()
    expect(resolver.queries).toEqual([`A ${SVC}`])
    expect(source.endpoints).toHaveLength(1)
  })

  it('walks the search list until a name answers, then asks that name first', async () => {
    const { clock, resolver, source } = setup(
      { service: 'web.other', dns: { search: ['default.svc.cluster.local', 'svc.cluster.local'], ndots: 5 } },
      (r) => r.set('web.other.svc.cluster.local', a('127.0.10.7')),
    )
    await source.ready()
    expect(resolver.queries).toEqual([
      'A web.other.default.svc.cluster.local',
      'A web.other.svc.cluster.local',
    ])
    resolver.queries.length = 0
    await clock.advanceAndSettle(5000)
    expect(resolver.queries).toEqual(['A web.other.svc.cluster.local'])
  })

  it('uses search and ndots from resolv.conf when the options leave them out', async () => {
    const clock = new FakeClock()
    const resolver = new FakeResolver()
    resolver.set(SVC, a('127.0.10.1'))
    const source = createEndpointSource(
      { service: 'web', port: 80, dns: { servers: ['127.0.0.53:5353'] } },
      {
        clock,
        createResolver: () => resolver,
        resolvConf: { nameservers: [], search: ['default.svc.cluster.local'], ndots: 5 },
      },
    )
    await source.ready()
    expect(resolver.servers).toEqual(['127.0.0.53:5353'])
    expect(source.endpoints).toHaveLength(1)
    await source.close()
  })

  it('resolves known pod names', async () => {
    const { source } = setup({ pods: ['web-0', 'web-1', 'web-2'] }, (r) => {
      statefulSet(r, ['127.0.10.1', '127.0.10.2'])
    })
    await source.ready()
    expect(source.endpoints.map((e) => [e.id, e.name, e.ordinal, e.port])).toEqual([
      [`web-0.${SVC}`, 'web-0', 0, 8080],
      [`web-1.${SVC}`, 'web-1', 1, 8080],
    ])
  })

  it('resolves both families with family dual; one endpoint per named pod', async () => {
    const { source } = setup({ family: 'dual' }, (r) => {
      r.set(SVC, { a: [{ address: '127.0.10.1', ttl: 5 }], aaaa: [{ address: '::1', ttl: 5 }] })
    })
    await source.ready()
    expect(source.endpoints.map((e) => e.id)).toEqual(['127.0.10.1:8080', '[::1]:8080'])
    expect(source.endpoints[1]!.family).toBe(6)

    const pods = setup({ family: 'dual', port: undefined, portName: 'http' }, (r) => {
      r.set(`_http._tcp.${SVC}`, { srv: [{ name: `web-0.${SVC}`, port: 8080, priority: 0, weight: 1 }] })
      r.set(`web-0.${SVC}`, { a: [{ address: '127.0.10.1', ttl: 5 }], aaaa: [{ address: '::1', ttl: 5 }] })
    })
    await pods.source.ready()
    expect(pods.source.endpoints).toHaveLength(1)
    expect(pods.source.endpoints[0]!.address).toBe('127.0.10.1')
  })

  it('resolves AAAA only with family 6', async () => {
    const { source } = setup({ family: 6 }, (r) => {
      r.set(SVC, { a: [{ address: '127.0.10.1', ttl: 5 }], aaaa: [{ address: 'fd00::1', ttl: 5 }] })
    })
    await source.ready()
    expect(source.endpoints.map((e) => e.id)).toEqual(['[fd00::1]:8080'])
  })

  it('handles hundreds of SRV records with duplicates', async () => {
    const { source } = setup({ port: undefined, portName: 'http' }, (r) => {
      const srv = []
      for (let i = 0; i < 300; i++) {
        srv.push({ name: `web-${i}.${SVC}`, port: 8080, priority: 0, weight: 1 })
        r.set(`web-${i}.${SVC}`, a(`127.0.${10 + Math.floor(i / 250)}.${(i % 250) + 1}`))
      }
      r.set(`_http._tcp.${SVC}`, { srv: [...srv, ...srv.slice(0, 10)] })
    })
    await source.ready()
    expect(source.endpoints).toHaveLength(300)
    expect(source.endpoints[299]!.ordinal).toBe(299)
  })

  it('keeps the other SRV targets when one target fails', async () => {
    const { source, resolver, errors } = setup({ port: undefined, portName: 'http' }, (r) => {
      const srv = []
      for (let i = 0; i < 100; i++) {
        srv.push({ name: `web-${i}.${SVC}`, port: 8080, priority: 0, weight: 1 })
        r.set(`web-${i}.${SVC}`, a(`127.0.10.${i + 1}`))
      }
      r.set(`_http._tcp.${SVC}`, { srv })
      // One target's query fails (SERVFAIL): that pod is left out (it has no last good address
      // yet), the 99 others are the set, and the failure is reported.
      const resolve4 = r.resolve4.bind(r)
      r.resolve4 = (name) => {
        if (name !== `web-0.${SVC}`) return resolve4(name)
        r.queries.push(`A ${name}`)
        return Promise.reject(Object.assign(new Error('queryA ESERVFAIL'), { code: 'ESERVFAIL' }))
      }
    })
    await source.ready()
    expect(errors).toHaveLength(1)
    expect(source.endpoints).toHaveLength(99)
    expect(resolver.queries.filter((q) => q.startsWith('A '))).toHaveLength(100)
    await source.close()
  })

  it('drops SRV targets whose name no longer resolves', async () => {
    const { source } = setup({ port: undefined, portName: 'http' }, (r) => {
      statefulSet(r, ['127.0.10.1', '127.0.10.2'])
      r.zone.delete(`web-1.${SVC}`)
    })
    await source.ready()
    expect(source.endpoints.map((e) => e.name)).toEqual(['web-0'])
  })

  it('rate-limits refresh() to one query per minRefresh', async () => {
    const { clock, resolver, source } = setup({ minRefresh: 1000 }, (r) => {
      r.set(SVC, { a: [{ address: '127.0.10.1', ttl: 30 }] })
    })
    await source.ready()
    source.refresh()
    source.refresh()
    await clock.advanceAndSettle(999)
    expect(resolver.queries).toHaveLength(1)
    await clock.advanceAndSettle(1)
    expect(resolver.queries).toHaveLength(2)
    source.refresh()
    await clock.advanceAndSettle(500)
    expect(resolver.queries).toHaveLength(2)
    await clock.advanceAndSettle(500)
    expect(resolver.queries).toHaveLength(3)
    // Back to the TTL schedule afterwards.
    expect(clock.nextDelay()).toBe(30_000)
  })

  it('refresh() does not cut short the backoff after DNS errors', async () => {
    const { clock, resolver, source } = setup(
      { minRefresh: 1000 },
      (r) => {
        r.set(SVC, { a: [{ address: '127.0.10.1', ttl: 1 }] })
      },
      () => 0.5,
    )
    await source.ready()
    resolver.failWith = 'ESERVFAIL'
    // The TTL refresh fails, then the retries after 1000 and 1600 ms; the next waits 2560 ms.
    for (let i = 0; i < 3; i++) await clock.advanceAndSettle(clock.nextDelay()!)
    expect(clock.nextDelay()).toBe(2560)
    const queries = resolver.queries.length
    // Refused connects during the outage (a pod died) each ask for a refresh: a fleet of clients
    // doing so at minRefresh would defeat the backoff that spares the failing DNS server.
    source.refresh()
    await clock.advanceAndSettle(1000)
    expect(resolver.queries).toHaveLength(queries)
    await clock.advanceAndSettle(1560)
    expect(resolver.queries).toHaveLength(queries + 1)
  })

  it('ready() rejects after its timeout with the service, query and DNS code', async () => {
    const { clock, source } = setup({ readyTimeout: 3000 }, (r) => {
      r.failWith = 'ESERVFAIL'
    })
    const ready = source.ready()
    const outcome = ready.catch((e: unknown) => e)
    await clock.advanceAndSettle(3000)
    const error = (await outcome) as ResolutionError
    expect(error).toBeInstanceOf(ResolutionError)
    expect(error.service).toBe(SVC)
    expect(error.query).toBe(`A ${SVC}`)
    expect(error.dnsCode).toBe('ESERVFAIL')
    expect(error.message).toContain(SVC)
    expect(error.message).toContain('ESERVFAIL')
  })

  it('ready() rejects when its signal aborts, and at once when already aborted', async () => {
    const { source } = setup({}, (r) => {
      r.hang = true
    })
    const controller = new AbortController()
    const ready = source.ready({ signal: controller.signal })
    controller.abort()
    await expect(ready).rejects.toBeInstanceOf(ResolutionError)
    await expect(source.ready({ signal: AbortSignal.abort() })).rejects.toMatchObject({
      query: `A ${SVC}`,
      service: SVC,
    })
    await source.close()
  })

  it('close() cancels queries in flight, clears timers, and rejects later use', async () => {
    const { clock, resolver, source, changes } = setup({}, (r) => {
      r.hang = true
    })
    const pending = source.ready()
    const outcome = pending.catch((e: unknown) => e)
    await flush()
    await source.close()
    expect(resolver.cancelled).toBe(1)
    expect(clock.pending).toBe(0)
    expect(await outcome).toBeInstanceOf(ClosedError)
    await expect(source.ready()).rejects.toBeInstanceOf(ClosedError)
    expect(() => source.refresh()).toThrow(ClosedError)
    await source.close()
    await clock.advanceAndSettle(60_000)
    expect(changes).toEqual([])
  })

  it('never throws at the process when nobody listens for errors', async () => {
    const clock = new FakeClock()
    const resolver = new FakeResolver()
    resolver.failWith = 'ETIMEOUT'
    const source = createEndpointSource({ service: SVC, port: 80 }, { clock, createResolver: () => resolver })
    await clock.advanceAndSettle(10_000)
    expect(resolver.queries.length).toBeGreaterThan(2)
    await source.close()
  })
})

describe('static endpoint source', () => {
  it('serves the addresses at once, without DNS', async () => {
    const source = createEndpointSource({ service: 'dev', addresses: ['127.0.0.1:3000', '[::1]:3001'] })
    await source.ready()
    expect(source.endpoints.map((e) => e.id)).toEqual(['127.0.0.1:3000', '[::1]:3001'])
    expect(source.stale).toBe(false)
    source.refresh()
    await source.close()
    await expect(source.ready()).rejects.toBeInstanceOf(ClosedError)
  })
})
