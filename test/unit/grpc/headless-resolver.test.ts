import { describe, expect, it } from 'vitest'
import type {
  GrpcEndpoint,
  GrpcLike,
  GrpcResolverConstructor,
  GrpcResolverListenerObject,
  GrpcServiceConfig,
  GrpcStatusObject,
  GrpcStatusOr,
  GrpcUri,
} from '../../../src/grpc/grpc-like.js'
import { registerHeadlessResolver } from '../../../src/grpc/register-headless-resolver.js'
import { FakeClock, flush } from '../../support/fake-clock.js'
import { FakeResolver } from '../../support/fake-resolver.js'

const SERVICE = 'rpc.default.svc.cluster.local'

/** A stand-in for the grpc-js module: it records the class registered for each scheme. */
class FakeGrpc implements GrpcLike {
  readonly classes = new Map<string, GrpcResolverConstructor>()
  readonly experimental = {
    registerResolver: (scheme: string, resolverClass: never): void => {
      this.classes.set(scheme, resolverClass as GrpcResolverConstructor)
    },
  }
  readonly Metadata = class Metadata {}
}

type Call =
  | { kind: 'list'; addresses: string[]; config: GrpcServiceConfig | null; note: string }
  | { kind: 'error'; details: string; code: number }

/** grpc-js 1.14's listener: one function, StatusOr results. */
function functionListener(calls: Call[]) {
  return (
    result: GrpcStatusOr<GrpcEndpoint[]>,
    _attributes: Record<string, unknown>,
    config: GrpcStatusOr<GrpcServiceConfig> | null,
    note: string,
  ): boolean => {
    if (result.ok) {
      calls.push({
        kind: 'list',
        addresses: addresses(result.value),
        config: config?.ok ? config.value : null,
        note,
      })
    } else calls.push({ kind: 'error', details: result.error.details, code: result.error.code })
    return true
  }
}

/** grpc-js 1.10 to 1.13's listener object. */
function objectListener(calls: Call[]): GrpcResolverListenerObject {
  return {
    onSuccessfulResolution: (endpoints, config) =>
      calls.push({ kind: 'list', addresses: addresses(endpoints), config, note: '' }),
    onError: (error: GrpcStatusObject) =>
      calls.push({ kind: 'error', details: error.details, code: error.code }),
  }
}

function addresses(endpoints: GrpcEndpoint[]): string[] {
  return endpoints.map((e) => `${e.addresses[0]!.host}:${e.addresses[0]!.port}`).sort()
}

function setup(options: Parameters<typeof registerHeadlessResolver>[1] = {}) {
  const grpc = new FakeGrpc()
  const clock = new FakeClock()
  const dns = new FakeResolver()
  const registration = registerHeadlessResolver(
    grpc,
    { dns: { search: [], ndots: 1 }, ...options },
    { clock, discovery: { createResolver: () => dns } },
  )
  const resolverClass = grpc.classes.get(registration.scheme)!
  return { grpc, clock, dns, registration, resolverClass }
}

function uri(path: string, authority = ''): GrpcUri {
  return { scheme: 'headless', authority, path }
}

const a = (...ips: string[]) => ({ a: ips.map((address) => ({ address, ttl: 5 })) })

describe('registerHeadlessResolver', () => {
  it('registers the headless scheme, or the one given', () => {
    expect(setup().registration.scheme).toBe('headless')
    const { grpc } = setup({ scheme: 'k8s' })
    expect([...grpc.classes.keys()]).toEqual(['k8s'])
  })

  it('rejects what is not the grpc-js module, naming how to pass it', () => {
    expect(() => registerHeadlessResolver({} as GrpcLike)).toThrow(TypeError)
    expect(() => registerHeadlessResolver(undefined as unknown as GrpcLike)).toThrow(
      /grpc must be the @grpc\/grpc-js module.*import \* as grpc from '@grpc\/grpc-js'/,
    )
  })

  it('validates every option at registration, naming it', () => {
    const grpc = new FakeGrpc()
    const register = (options: unknown) => () => registerHeadlessResolver(grpc, options as never)
    expect(register({ balancer: 'peak-ewma' })).toThrow(/^balancer must be absent.*grpc\.service_config/)
    expect(register({ outlierDetection: false })).toThrow(/^outlierDetection must be absent/)
    expect(register({ port: 50051 })).toThrow(/^port must be absent.*The target names the service and port/)
    expect(register({ minrefresh: 10 })).toThrow(
      /^minrefresh must be a known option.*Did you mean minRefresh/,
    )
    expect(register({ dns: { servers: ['dns.local'] } })).toThrow(/^dns\.servers\[0\] must be an IP address/)
    expect(register({ minRefresh: -1 })).toThrow(RangeError)
    expect(register({ panicThreshold: 2 })).toThrow(/panicThreshold/)
    expect(register({ healthCheck: { tcp: 'yes' } })).toThrow(/healthCheck\.tcp/)
    expect(register({ scheme: 'dns' })).toThrow(RangeError)
    expect(register({ scheme: 'dns' })).toThrow(/^scheme must be not one of grpc-js's own schemes/)
    expect(register({ scheme: '1x' })).toThrow(/^scheme must be a URI scheme/)
    expect(grpc.classes.size).toBe(0)
  })
})

describe('targets', () => {
  const { resolverClass } = setup()

  it('take a port (A/AAAA) or a port name (SRV); the authority is what grpc-js sends as :authority', () => {
    expect(resolverClass.getDefaultAuthority(uri(`${SERVICE}:50051`))).toBe(`${SERVICE}:50051`)
    expect(resolverClass.getDefaultAuthority(uri(`${SERVICE}:grpc`))).toBe(SERVICE)
    expect(resolverClass.getDefaultAuthority(uri('RPC:50051', '10.96.0.10:53'))).toBe('rpc:50051')
  })

  it('are rejected when grpc-js makes the channel, with the forms that work', () => {
    const authority = (path: string, auth?: string) => () =>
      resolverClass.getDefaultAuthority(uri(path, auth))
    expect(authority(SERVICE)).toThrow(TypeError)
    expect(authority(SERVICE)).toThrow(
      /target must be headless:\/\/\/<service>:<port or port name>, got "headless:/, //rpc.*It names no port, e\.g\. headless:\/\/\/rpc\.default\.svc\.cluster\.local:50051/,
    )
    expect(authority(`${SERVICE}:70000`)).toThrow(/The port 70000 is not from 1 to 65535/)
    expect(authority(`${SERVICE}:Grpc_Port`)).toThrow(/neither a port number nor a Kubernetes port name/)
    expect(authority('under_score.svc:80')).toThrow(/is not a service name/)
    expect(authority(`${SERVICE}:80`, 'dns.example')).toThrow(/is not a DNS server's ip or ip:port/)
  })
})

describe('a channel resolver', () => {
  it('hands grpc-js the endpoints DNS lists, never synchronously, and each change once', async () => {
    const { clock, dns, resolverClass, registration } = setup()
    dns.set(SERVICE, a('10.0.0.1', '10.0.0.2'))
    const calls: Call[] = []
    const resolver = new resolverClass(uri(`${SERVICE}:50051`), functionListener(calls), {})
    expect(registration.pools).toHaveLength(0) // nothing until grpc-js asks
    resolver.updateResolution()
    expect(calls).toEqual([])
    await flush()
    expect(calls).toEqual([
      {
        kind: 'list',
        addresses: ['10.0.0.1:50051', '10.0.0.2:50051'],
        config: { loadBalancingConfig: [{ round_robin: {} }], methodConfig: [] },
        note: '',
      },
    ])
    // The same answer at the next TTL: nothing new to say.
    await clock.advanceAndSettle(5_000)
    expect(calls).toHaveLength(1)
    dns.set(SERVICE, a('10.0.0.1', '10.0.0.2', '10.0.0.3'))
    await clock.advanceAndSettle(5_000)
    expect(calls.at(-1)).toMatchObject({
      kind: 'list',
      addresses: ['10.0.0.1:50051', '10.0.0.2:50051', '10.0.0.3:50051'],
    })
    resolver.destroy()
  })

  it('leaves the load-balancing policy to a channel that sets grpc.service_config', async () => {
    const { dns, resolverClass } = setup()
    dns.set(SERVICE, a('10.0.0.1'))
    const calls: Call[] = []
    const resolver = new resolverClass(uri(`${SERVICE}:50051`), functionListener(calls), {
      'grpc.service_config': '{"loadBalancingConfig":[{"pick_first":{}}]}',
    })
    resolver.updateResolution()
    await flush()
    expect(calls).toMatchObject([{ kind: 'list', config: null }])
    resolver.destroy()
  })

  it('re-resolves when grpc-js asks, at most once per minRefresh', async () => {
    const { clock, dns, resolverClass } = setup({ minRefresh: 1_000 })
    dns.set(SERVICE, a('10.0.0.1'))
    const resolver = new resolverClass(uri(`${SERVICE}:50051`), functionListener([]), {})
    resolver.updateResolution()
    await flush()
    const queries = dns.queries.length
    // A burst of lost connections: one query, when the rate limit allows.
    for (let i = 0; i < 10; i++) resolver.updateResolution()
    await clock.advanceAndSettle(999)
    expect(dns.queries.length).toBe(queries)
    await clock.advanceAndSettle(1)
    expect(dns.queries.length).toBe(queries + 1)
    resolver.destroy()
  })

  it('reports no records (NXDOMAIN) as no addresses, then UNAVAILABLE with the reason', async () => {
    const { clock, dns, resolverClass } = setup()
    dns.set(SERVICE, a('10.0.0.1'))
    const calls: Call[] = []
    const resolver = new resolverClass(uri(`${SERVICE}:50051`), functionListener(calls), {})
    resolver.updateResolution()
    await flush()
    dns.zone.delete(SERVICE)
    // Not believed at once (discovery confirms an empty answer after minRefresh).
    await clock.advanceAndSettle(5_000)
    await clock.advanceAndSettle(1_000)
    expect(calls.slice(1)).toEqual([
      {
        kind: 'list',
        addresses: [],
        config: expect.anything(),
        note: expect.stringMatching(/DNS lists no ready pod of rpc/),
      },
      { kind: 'error', code: 14, details: expect.stringMatching(/DNS lists no ready pod of rpc/) },
    ])
    resolver.destroy()
  })

  it('keeps the last set through DNS errors', async () => {
    const { clock, dns, resolverClass, registration } = setup()
    dns.set(SERVICE, a('10.0.0.1', '10.0.0.2'))
    const calls: Call[] = []
    const errors: Error[] = []
    registration.on('error', (error) => errors.push(error))
    const resolver = new resolverClass(uri(`${SERVICE}:50051`), functionListener(calls), {})
    resolver.updateResolution()
    await flush()
    dns.failWith = 'ESERVFAIL'
    await clock.advanceAndSettle(30_000)
    expect(errors.length).toBeGreaterThan(0)
    expect(calls).toHaveLength(1)
    expect(registration.pools[0]!.stale).toBe(true)
    resolver.destroy()
  })

  it('reports UNAVAILABLE when the first resolution times out, and the first answer after it', async () => {
    const { clock, dns, resolverClass } = setup({ readyTimeout: 2_000 })
    dns.failWith = 'ETIMEOUT'
    const calls: Call[] = []
    const resolver = new resolverClass(uri(`${SERVICE}:50051`), functionListener(calls), {})
    resolver.updateResolution()
    await clock.advanceAndSettle(2_000)
    expect(calls).toEqual([
      {
        kind: 'error',
        code: 14,
        details: expect.stringMatching(/^headless-lb: headless:\/\/\/rpc.*was not resolved/),
      },
    ])
    dns.failWith = undefined
    dns.set(SERVICE, a('10.0.0.9'))
    await clock.advanceAndSettle(30_000)
    expect(calls.at(-1)).toMatchObject({ kind: 'list', addresses: ['10.0.0.9:50051'] })
    resolver.destroy()
  })

  it('leaves out endpoints its health checks find unfit', async () => {
    const { clock, dns, resolverClass } = setup({
      healthCheck: { check: async (e) => e.address !== '10.0.0.2', unhealthyThreshold: 1, interval: 1_000 },
      panicThreshold: 0,
    })
    dns.set(SERVICE, a('10.0.0.1', '10.0.0.2', '10.0.0.3'))
    const calls: Call[] = []
    const resolver = new resolverClass(uri(`${SERVICE}:50051`), functionListener(calls), {})
    resolver.updateResolution()
    await clock.advanceAndSettle(1_500)
    expect(calls.at(-1)).toMatchObject({ kind: 'list', addresses: ['10.0.0.1:50051', '10.0.0.3:50051'] })
    resolver.destroy()
  })

  it('serves the listener object of grpc-js before 1.14', async () => {
    const { clock, dns, resolverClass } = setup()
    dns.set(SERVICE, a('10.0.0.1'))
    const calls: Call[] = []
    const resolver = new resolverClass(uri(`${SERVICE}:50051`), objectListener(calls) as never, {})
    resolver.updateResolution()
    await flush()
    dns.zone.delete(SERVICE)
    await clock.advanceAndSettle(6_000)
    expect(calls).toEqual([
      { kind: 'list', addresses: ['10.0.0.1:50051'], config: expect.anything(), note: '' },
      { kind: 'list', addresses: [], config: expect.anything(), note: '' },
      { kind: 'error', code: 14, details: expect.stringMatching(/DNS lists no ready pod/) },
    ])
    resolver.destroy()
  })

  it('asks SRV for a port name, and a DNS server named in the target', async () => {
    const { dns, resolverClass } = setup()
    dns.set(`_grpc._tcp.${SERVICE}`, {
      srv: [{ name: `rpc-0.${SERVICE}`, port: 9000, priority: 0, weight: 1 }],
    })
    dns.set(`rpc-0.${SERVICE}`, a('10.0.0.7'))
    const calls: Call[] = []
    const resolver = new resolverClass(uri(`${SERVICE}:grpc`, '10.96.0.10'), functionListener(calls), {})
    resolver.updateResolution()
    await flush()
    expect(calls).toMatchObject([{ kind: 'list', addresses: ['10.0.0.7:9000'] }])
    expect(dns.servers).toEqual(['10.96.0.10'])
    resolver.destroy()
  })

  it('destroy() closes the pool and leaves no timer; updateResolution() then starts again', async () => {
    const { clock, dns, resolverClass, registration } = setup()
    dns.set(SERVICE, a('10.0.0.1'))
    const calls: Call[] = []
    const resolver = new resolverClass(uri(`${SERVICE}:50051`), functionListener(calls), {})
    resolver.updateResolution()
    await flush()
    const pool = registration.pools[0]!
    resolver.destroy()
    resolver.destroy()
    await flush()
    expect(registration.pools).toHaveLength(0)
    expect(clock.pending).toBe(0)
    expect(() => pool.pick()).toThrow(/closed/)
    // No listener call after destroy, even for work that was under way.
    dns.set(SERVICE, a('10.0.0.2'))
    await clock.advanceAndSettle(60_000)
    expect(calls).toHaveLength(1)
    resolver.updateResolution()
    await flush()
    expect(calls.at(-1)).toMatchObject({ kind: 'list', addresses: ['10.0.0.2:50051'] })
    resolver.destroy()
    await flush()
    expect(clock.pending).toBe(0)
  })
})
