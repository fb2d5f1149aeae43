import { describe, expect, it } from 'vitest'
import { classifyRedisError, createRedisRouter, type RedisRouterOptions } from '../../../src/ioredis/index.js'

const probe = async () => 'primary' as const
// lazyConnect: no socket in a unit test.
const base = { service: 'cache', addresses: ['127.0.0.1'], primary: { probe }, redis: { lazyConnect: true } }

function create(options: Record<string, unknown>) {
  return createRedisRouter(options as unknown as RedisRouterOptions)
}

describe('createRedisRouter options', () => {
  it.each(['host', 'port', 'path', 'sentinels'])('rejects redis.%s, naming it', (key) => {
    expect(() => create({ ...base, redis: { [key]: key === 'port' ? 6380 : 'x' } })).toThrow(
      new RegExp(`^redis\\.${key} must be left out`),
    )
  })

  it('rejects unknown options and read preferences', () => {
    expect(() => create({ ...base, pg: {} })).toThrow(/^pg must be a known option/)
    expect(() => create({ ...base, readPreference: 'slave' })).toThrow(/^readPreference must be one of/)
    expect(() => create({ ...base, portname: 'redis' })).toThrow(/Did you mean portName\?/)
  })

  it('defaults the port to 6379; primary and replica throw ClosedError after close', async () => {
    const cache = create(base)
    expect(cache.pool.endpoints.map((e) => e.port)).toEqual([6379])
    expect(cache.readPreference).toBe('replicaPreferred')
    await cache.ready()
    expect(cache.primary.options.host).toBe('127.0.0.1')
    await Promise.resolve() // the getter's unused lease is freed at the end of the tick
    expect(cache.stats().endpoints[0]).toMatchObject({ inFlight: 0, failures: 0 })
    await cache.close()
    expect(() => cache.primary).toThrow(/closed/)
    expect(() => cache.replica).toThrow(/closed/)
  })
})

describe('classifyRedisError', () => {
  const reply = (message: string) => Object.assign(new Error(message), { name: 'ReplyError' })

  it.each([
    "READONLY You can't write against a read only replica.",
    'LOADING Redis is loading the dataset in memory',
    'MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to no',
    'BUSY Redis is busy running a script.',
    'OOM command not allowed when used memory > maxmemory.',
  ])('%s is a failure of the endpoint', (message) => {
    expect(classifyRedisError(reply(message))).toEqual({ endpointFailure: true, kind: 'other' })
  })

  it.each([
    'WRONGTYPE Operation against a key holding the wrong kind of value',
    "ERR unknown command 'FOO'",
    'ERR value is not an integer or out of range',
  ])("%s is the caller's error", (message) => {
    expect(classifyRedisError(reply(message)).endpointFailure).toBe(false)
  })

  it.each([
    [Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 'connect-refused'],
    [Object.assign(new Error('connect ETIMEDOUT'), { code: 'ETIMEDOUT' }), 'connect-timeout'],
    [new Error('Connection is closed.'), 'reset'],
    [
      Object.assign(new Error('Reached the max retries per request limit'), {
        name: 'MaxRetriesPerRequestError',
      }),
      'reset',
    ],
    [new Error('Command timed out'), 'timeout'],
  ])('%s is a failure of the endpoint (%s)', (error, kind) => {
    expect(classifyRedisError(error)).toEqual({ endpointFailure: true, kind })
  })
})
