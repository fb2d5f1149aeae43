import { describe, expect, it } from 'vitest'
import { createPgRouter, type PgRouterOptions } from '../../../src/pg/index.js'

const probe = async () => 'primary' as const
const base = { service: 'db', addresses: ['127.0.0.1'], primary: { probe } }

function create(options: Record<string, unknown>) {
  return createPgRouter(options as unknown as PgRouterOptions)
}

describe('createPgRouter options', () => {
  it.each(['host', 'port', 'connectionString', 'stream'])('rejects pg.%s, naming it', (key) => {
    expect(() => create({ ...base, pg: { user: 'app', [key]: key === 'port' ? 5433 : 'x' } })).toThrow(
      new RegExp(`^pg\\.${key} must be left out \\(the router connects to the address of each pod`),
    )
  })

  it('rejects an unknown option with the near miss', () => {
    expect(() => create({ ...base, readpreference: 'replica' })).toThrow(TypeError)
    expect(() => create({ ...base, readpreference: 'replica' })).toThrow(
      /^readpreference must be a known option.*Did you mean readPreference\?/,
    )
    expect(() => create({ ...base, redis: {} })).toThrow(/^redis must be a known option/)
  })

  it('rejects a read preference that does not exist', () => {
    expect(() => create({ ...base, readPreference: 'secondary' })).toThrow(
      /^readPreference must be one of "primary"/,
    )
  })

  it("validates the pool's options as createPool does", () => {
    expect(() => create({ ...base, balancer: 'fastest' })).toThrow(/^balancer must be/)
    expect(() => create({ service: 'db', addresses: ['127.0.0.1'], primary: { interval: -1 } })).toThrow(
      RangeError,
    )
    expect(() => create({ ...base, pg: 'postgres://db' })).toThrow(/^pg must be an object/)
    expect(() => create({ ...base, service: '' })).toThrow(/^service must be/)
  })

  it('defaults the port to 5432 and takes any createPool option', async () => {
    const db = create({ ...base, balancer: 'least-request', outlierDetection: { consecutiveFailures: 3 } })
    try {
      expect(db.pool.endpoints.map((e) => `${e.address}:${e.port}`)).toEqual(['127.0.0.1:5432'])
      expect(db.stats().balancer).toBe('least-request')
      expect(db.replica.readPreference).toBe('replicaPreferred')
      expect(db.route('nearest')).toBe(db.route('nearest'))
      expect(() => db.route('secondary' as never)).toThrow(/^readPreference must be one of/)
    } finally {
      await db.close()
    }
  })

  it('uses a replacement probe, and fails after close with ClosedError', async () => {
    const db = create({ ...base, readPreference: 'primary' })
    await db.ready()
    expect(db.pool.primary?.address).toBe('127.0.0.1')
    await db.close()
    await db.close()
    await expect(db.query('SELECT 1')).rejects.toMatchObject({ name: 'ClosedError', code: 'HLB_ERR_CLOSED' })
    await expect(db.connect()).rejects.toMatchObject({ code: 'HLB_ERR_CLOSED' })
  })
})
