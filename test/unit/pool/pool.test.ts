import { describe, expect, it } from 'vitest'
import { validateDiscoveryOptions } from '../../../src/discovery/discovery-options.js'
import { ClosedError, NoEndpointsError, NoPrimaryError } from '../../../src/errors.js'
import { InvalidOptionError } from '../../../src/invalid-option-error.js'
import type { PoolOptions } from '../../../src/pool.js'
import { createPool } from '../../../src/pool.js'
import { FakeClock } from '../../support/fake-clock.js'
import { FakeResolver } from '../../support/fake-resolver.js'
import { FakeSource, seededRandom, statefulSet } from './fakes.js'

function setup(options: Partial<PoolOptions> = {}, n = 3) {
  const source = new FakeSource(statefulSet(n))
  const clock = new FakeClock()
  const pool = createPool(
    { service: 'web.default.svc.cluster.local', port: 8080, ...options },
    {
      source,
      clock,
      random: seededRandom(),
    },
  )
  return { source, clock, pool }
}

describe('createPool', () => {
  it('round-robins across the endpoints discovery lists', () => {
    const { pool } = setup({ balancer: 'round-robin' })
    const names = Array.from({ length: 6 }, () => pool.pick().name)
    expect(new Set(names.slice(0, 3)).size).toBe(3)
    expect(names.slice(3)).toEqual(names.slice(0, 3))
  })

  it('rejects unknown options, naming them', () => {
    expect(() =>
      createPool({ service: 'web', balancr: 'random' } as never, { source: new FakeSource() }),
    ).toThrow(/balancr must be a known option/)
    expect(() =>
      createPool({ service: 'web', balancer: 'fastest' } as never, { source: new FakeSource() }),
    ).toThrow(TypeError)
    expect(() =>
      createPool(
        { service: 'web', outlierDetection: { baseEjectionTime: -1 } },
        { source: new FakeSource() },
      ),
    ).toThrow(/outlierDetection.baseEjectionTime must be a finite number of milliseconds >= 1, got -1/)
  })

  it('rejects primary by ordinal or name when discovery can give no pod names', () => {
    // A/AAAA records of the service and static addresses carry no pod names: no endpoint would
    // ever be the primary, and every write would fail with NoPrimaryError.
    // No DNS leaves the process: a fake resolver, should a pool be built.
    const offline = {
      discovery: {
        createResolver: () => new FakeResolver(),
        resolvConf: { nameservers: [], search: [], ndots: 1 },
      },
    }
    expect(() => createPool({ service: 'db', port: 5432, primary: { ordinal: 0 } }, offline)).toThrow(
      new InvalidOptionError(
        'primary.ordinal',
        'primary.ordinal must be used with portName (SRV) or pods, which give pod names, got 0. ' +
          'A/AAAA records of the service and static addresses carry none, so no endpoint would ever be the primary; ' +
          'set portName or pods, or find the primary with primary.probe',
        0,
      ),
    )
    expect(() =>
      createPool({ service: 'db', addresses: ['127.0.0.1:5432'], primary: { name: 'db-0' } }, offline),
    ).toThrow(/primary.name must be used with portName \(SRV\) or pods/)
    const ok = createPool({ service: 'db', port: 5432, pods: ['db-0'], primary: { ordinal: 0 } }, offline)
    void ok.close()
  })

  it('throws NoEndpointsError naming the service when discovery lists nothing', () => {
    const { pool, source } = setup()
    source.set([])
    expect(() => pool.pick()).toThrow(NoEndpointsError)
    expect(() => pool.pick()).toThrow(/web.default.svc.cluster.local/)
  })

  it('stops picking a removed endpoint at once; its lease still releases', () => {
    const { pool, source } = setup()
    const lease = pool.acquire({
      exclude: ['web-0.web.default.svc.cluster.local', 'web-1.web.default.svc.cluster.local'],
    })
    expect(lease.endpoint.name).toBe('web-2')
    source.set(statefulSet(2))
    for (let i = 0; i < 10; i++) expect(pool.pick().name).not.toBe('web-2')
    lease.release({ ok: true, latency: 3 })
    expect(pool.stats().endpoints.map((e) => e.inFlight)).toEqual([0, 0])
  })

  it('rejects an exclude that is not an array (a lone endpoint or id), naming exclude', () => {
    const { pool } = setup()
    const [first] = pool.endpoints
    for (const exclude of [first, first!.id]) {
      expect(() => pool.pick({ exclude } as never)).toThrow(TypeError)
      expect(() => pool.acquire({ exclude } as never)).toThrow(/^pick options\.exclude must be an array/)
    }
    expect(pool.stats().endpoints.every((s) => s.inFlight === 0)).toBe(true)
    expect(pool.pick({ exclude: [first!] }).id).not.toBe(first!.id)
  })

  it('counts in-flight leases and recycles them', () => {
    const { pool } = setup({ balancer: 'least-request' })
    const a = pool.acquire()
    expect(pool.stats().endpoints.find((e) => e.endpoint === a.endpoint)?.inFlight).toBe(1)
    a.release({ ok: true, latency: 1 })
    a.release({ ok: true, latency: 1 }) // a second release is ignored
    expect(pool.stats().endpoints.every((e) => e.inFlight === 0)).toBe(true)
  })

  it('routes role primary to the ordinal-0 pod only, and replicas elsewhere', () => {
    const { pool } = setup({ primary: { ordinal: 0 } })
    for (let i = 0; i < 10; i++) expect(pool.pick({ role: 'primary' }).name).toBe('web-0')
    for (let i = 0; i < 10; i++) expect(pool.pick({ role: 'replica' }).name).not.toBe('web-0')
  })

  it('takes primary.name as a pod name: one DNS label, case-insensitive', () => {
    // Discovery lower-cases names and Endpoint.name is the first label: 'Web-0' or a full hostname
    // would never match, leaving every write to fail with NoPrimaryError.
    expect(setup({ primary: { name: 'Web-0' } }).pool.pick({ role: 'primary' }).name).toBe('web-0')
    expect(() => setup({ primary: { name: 'web-0.web.default.svc.cluster.local' } })).toThrow(
      /primary.name must be a pod name \(one DNS label, such as "db-0"\), got "web-0.web.default.svc.cluster.local"/,
    )
    expect(() => setup({ primary: { name: 'web_0' } })).toThrow(TypeError)
    // Pod names given to discovery are lower-cased too, so both sides compare.
    expect(validateDiscoveryOptions({ service: 'db', port: 5432, pods: ['DB-0'] }).pods).toEqual(['db-0'])
  })

  it('fails fast with NoPrimaryError, never a replica, when the primary is gone', () => {
    const { pool, source } = setup({ primary: { name: 'web-0' } })
    source.set(statefulSet(2, 'web', { offset: 1 }))
    expect(() => pool.pick({ role: 'primary' })).toThrow(NoPrimaryError)
    expect(pool.pick({ readPreference: 'primaryPreferred' }).name).not.toBe('web-0')
  })

  it('is closed after close(): picks throw ClosedError, close is idempotent', async () => {
    const { pool, source } = setup()
    await pool.close()
    await pool[Symbol.asyncDispose]()
    expect(() => pool.pick()).toThrow(ClosedError)
    expect(source.closed).toBe(false) // an injected source belongs to its owner
  })
})

describe('createPool with real discovery', () => {
  it('builds its own source from discovery options (a static list here) and closes it', async () => {
    const pool = createPool({
      service: 'web',
      addresses: ['127.0.0.1:8080', '127.0.0.2:8080'],
      balancer: 'random',
    })
    await pool.ready()
    expect(pool.endpoints.map((e) => e.address).sort()).toEqual(['127.0.0.1', '127.0.0.2'])
    expect(['127.0.0.1', '127.0.0.2']).toContain(pool.pick().address)
    await pool.close()
    await expect(pool.ready()).rejects.toBeInstanceOf(ClosedError)
  })

  it('rejects a discovery option mistake with the discovery message', () => {
    expect(() => createPool({ service: 'web', addresses: ['not an address'] })).toThrow(/addresses\[0\]/)
  })
})
