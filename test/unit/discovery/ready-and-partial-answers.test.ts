import { describe, expect, it } from 'vitest'
import { createEndpointSource } from '../../../src/discovery/create-endpoint-source.js'
import type { DiscoveryOptions } from '../../../src/discovery/discovery-options.js'
import { ResolutionError } from '../../../src/errors.js'
import { FakeClock, flush } from '../../support/fake-clock.js'
import { FakeResolver } from '../../support/fake-resolver.js'

// ready() means "has an endpoint"; one SRV target failing, or an address that cannot be an
// endpoint, costs that record only (issue 12, items 7 and 8).

const SVC = 'web.default.svc.cluster.local'

function setup(
  options: { [K in keyof DiscoveryOptions]?: DiscoveryOptions[K] | undefined } = {},
  prepare: (resolver: FakeResolver) => void = () => {},
) {
  const clock = new FakeClock()
  const resolver = new FakeResolver()
  prepare(resolver)
  const source = createEndpointSource(
    { service: SVC, port: 8080, dns: { search: [], ndots: 1 }, ...options } as DiscoveryOptions,
    {
      clock,
      random: () => 0,
      createResolver: () => resolver,
      resolvConf: { nameservers: [], search: [], ndots: 1 },
    },
  )
  const errors: ResolutionError[] = []
  source.on('error', (e) => errors.push(e as ResolutionError))
  return { clock, resolver, source, errors }
}

function settled<T>(promise: Promise<T>): { done: boolean; error: unknown } {
  const state = { done: false, error: undefined as unknown }
  promise.then(
    () => {
      state.done = true
    },
    (error: unknown) => {
      state.done = true
      state.error = error
    },
  )
  return state
}

/** web-0..n-1 behind SRV _http._tcp, each with one A record. */
function statefulSet(resolver: FakeResolver, ips: string[], ttl = 5) {
  resolver.set(`_http._tcp.${SVC}`, {
    srv: ips.map((_, i) => ({ name: `web-${i}.${SVC}`, port: 8080, priority: 0, weight: 100 })),
  })
  ips.forEach((ip, i) => {
    resolver.set(`web-${i}.${SVC}`, { a: [{ address: ip, ttl }] })
  })
}

/** Makes A queries for `name` fail with SERVFAIL while `failing()` says so. */
function failA(resolver: FakeResolver, name: string, failing: () => boolean = () => true) {
  const resolve4 = resolver.resolve4.bind(resolver)
  resolver.resolve4 = (n) => {
    if (n !== name || !failing()) return resolve4(n)
    resolver.queries.push(`A ${n}`)
    return Promise.reject(Object.assign(new Error('queryA ESERVFAIL'), { code: 'ESERVFAIL' }))
  }
}

describe('ready()', () => {
  it('keeps waiting through NXDOMAIN at start, then rejects naming the service: no ready pods, or no such service', async () => {
    const { clock, source } = setup({ readyTimeout: 10_000 })
    const ready = source.ready()
    const state = settled(ready)
    await flush()
    expect(state.done).toBe(false) // the first answer came (NXDOMAIN), and ready() still waits
    await clock.advanceAndSettle(10_000)
    const error = state.error as ResolutionError
    expect(error).toBeInstanceOf(ResolutionError)
    expect(error.service).toBe(SVC)
    expect(error.message).toContain(SVC)
    expect(error.message).toContain('no ready pods, or no such service')
    expect(error.query).toBe(`A ${SVC}`)
    expect(error.dnsCode).toBe('ENOTFOUND')
  })

  it('resolves when the first pod appears in DNS before the timeout', async () => {
    const { clock, resolver, source } = setup({ readyTimeout: 30_000 })
    const state = settled(source.ready())
    await clock.advanceAndSettle(3_000)
    expect(state.done).toBe(false)
    resolver.set(SVC, { a: [{ address: '127.0.10.1', ttl: 5 }] })
    await clock.advanceAndSettle(10_000) // the next refresh (5 s for an empty answer) finds it
    expect(state.done).toBe(true)
    expect(state.error).toBeUndefined()
    expect(source.endpoints.map((e) => e.address)).toEqual(['127.0.10.1'])
  })

  it('ready({ allowEmpty: true }) resolves after the first answer, even an empty one', async () => {
    const { source } = setup()
    await source.ready({ allowEmpty: true })
    expect(source.endpoints).toEqual([])
    await expect(source.ready({ allowEmpty: 'yes' as never })).rejects.toThrow(
      /ready options.allowEmpty must be true or false/,
    )
  })
})

describe('an SRV target whose lookup fails', () => {
  it('costs only that target at the first resolution, with an error naming its query', async () => {
    const { source, errors } = setup({ port: undefined, portName: 'http' }, (r) => {
      statefulSet(r, ['127.0.10.1', '127.0.10.2', '127.0.10.3'])
      failA(r, `web-1.${SVC}`)
    })
    await source.ready()
    expect(source.endpoints.map((e) => e.name)).toEqual(['web-0', 'web-2'])
    expect(source.stale).toBe(false)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toBeInstanceOf(ResolutionError)
    expect(errors[0]!.query).toBe(`A web-1.${SVC}`)
    expect(errors[0]!.dnsCode).toBe('ESERVFAIL')
    expect(errors[0]!.message).toContain(SVC)
  })

  it('keeps its last good address on a later refresh, and is asked again', async () => {
    let failing = false
    const { clock, resolver, source, errors } = setup(
      { port: undefined, portName: 'http', minRefresh: 1_000, maxRefresh: 5_000 },
      (r) => {
        statefulSet(r, ['127.0.10.1', '127.0.10.2', '127.0.10.3'], 1)
        failA(r, `web-1.${SVC}`, () => failing)
      },
    )
    await source.ready()
    expect(source.endpoints).toHaveLength(3)
    failing = true
    // The other targets' news still gets through: the resolution did not fail as a whole.
    resolver.set(`web-2.${SVC}`, { a: [{ address: '127.0.10.7', ttl: 1 }] })
    await clock.advanceAndSettle(6_000)
    expect(errors.length).toBeGreaterThan(0)
    expect(errors.every((e) => e.query === `A web-1.${SVC}`)).toBe(true)
    expect(source.stale).toBe(false)
    expect(source.endpoints.map((e) => `${e.name} ${e.address}`)).toEqual([
      'web-0 127.0.10.1',
      'web-1 127.0.10.2',
      'web-2 127.0.10.7',
    ])
    const asked = resolver.queries.filter((q) => q === `A web-1.${SVC}`).length
    failing = false
    resolver.set(`web-1.${SVC}`, { a: [{ address: '127.0.10.9', ttl: 1 }] })
    await clock.advanceAndSettle(6_000)
    expect(resolver.queries.filter((q) => q === `A web-1.${SVC}`).length).toBeGreaterThan(asked)
    expect(source.endpoints.find((e) => e.name === 'web-1')?.address).toBe('127.0.10.9')
  })

  it('fails the resolution when every target fails and none has a last good address', async () => {
    const { clock, source, errors } = setup({ port: undefined, portName: 'http' }, (r) => {
      statefulSet(r, ['127.0.10.1'])
      failA(r, `web-0.${SVC}`)
    })
    await flush()
    expect(errors).toHaveLength(1)
    expect(source.endpoints).toEqual([])
    const state = settled(source.ready({ timeout: 0 }))
    await clock.advanceAndSettle(0)
    expect(state.error).toBeInstanceOf(ResolutionError)
    await source.close()
  })
})

describe('addresses that cannot be an endpoint', () => {
  it('drops 0.0.0.0, 255.255.255.255 and multicast A records, with an error saying why', async () => {
    const { source, errors } = setup({}, (r) => {
      r.set(SVC, {
        a: ['0.0.0.0', '255.255.255.255', '224.0.0.1', '239.1.2.3', '127.0.10.1'].map((address) => ({
          address,
          ttl: 5,
        })),
      })
    })
    await source.ready()
    expect(source.endpoints.map((e) => e.address)).toEqual(['127.0.10.1'])
    const messages = errors.map((e) => e.message).join('\n')
    expect(messages).toMatch(/0\.0\.0\.0.*unspecified/)
    expect(messages).toMatch(/255\.255\.255\.255.*broadcast/)
    expect(messages).toMatch(/224\.0\.0\.1.*multicast/)
    expect(messages).toMatch(/239\.1\.2\.3.*multicast/)
    expect(errors.every((e) => e instanceof ResolutionError && e.service === SVC)).toBe(true)
  })

  it('drops :: and ff00::/8 AAAA records, and SRV targets answering with them', async () => {
    const six = setup({ family: 6 }, (r) => {
      r.set(SVC, {
        aaaa: ['::', 'ff02::1', 'ff05::2', 'fd00::1', 'ff::1'].map((address) => ({ address, ttl: 5 })),
      })
    })
    await six.source.ready()
    // ff::1 is 00ff::1, not multicast.
    expect(six.source.endpoints.map((e) => e.address)).toEqual(['fd00::1', 'ff::1'])
    expect(six.errors.map((e) => e.message).join('\n')).toMatch(/ff02::1.*multicast/)
    const srv = setup({ port: undefined, portName: 'http' }, (r) => {
      statefulSet(r, ['127.0.10.1', '0.0.0.0'])
    })
    await srv.source.ready()
    expect(srv.source.endpoints.map((e) => e.name)).toEqual(['web-0'])
    expect(srv.errors.map((e) => e.message).join('\n')).toMatch(/web-1.*0\.0\.0\.0/)
  })

  it('an answer with no usable address is no pods, not a crash', async () => {
    const { clock, source } = setup({ readyTimeout: 1_000 }, (r) => {
      r.set(SVC, { a: [{ address: '0.0.0.0', ttl: 5 }] })
    })
    const state = settled(source.ready())
    await clock.advanceAndSettle(1_000)
    expect((state.error as Error).message).toContain('no ready pods, or no such service')
    expect(source.endpoints).toEqual([])
  })
})
