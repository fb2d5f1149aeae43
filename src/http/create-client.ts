import { poolPort } from '../internal/default-port.js'
import { invalidType, requireObject, splitOptions } from '../options.js'
import type { Pool, PoolOptions } from '../pool.js'
import { BalancedDispatcher } from './balanced-dispatcher.js'
import { type ClientOwnOptions, isPrimaryConfigured, resolveHttpOptions } from './client-options.js'
import { HeadlessClient } from './headless-client.js'
import type { LeasePool } from './lease-pool.js'
import { parseOrigin } from './parse-origin.js'
import {
  CLIENT_OPTION_AREAS,
  type ClientPoolOptions,
  createServicePool,
  poolOptionBesidePool,
} from './pool-factory.js'

/** createClient's options: the origin, the HTTP options, and everything createPool takes. */
export type ClientOptions = Omit<ClientOwnOptions, 'pool'> & ClientPoolOptions & { pool?: undefined }

/** createClient's options with a pool made elsewhere: then no pool option may be given. */
export type ClientWithPoolOptions<P extends LeasePool> = Omit<ClientOwnOptions, 'pool'> & { pool: P }

/**
 * Creates an HTTP client for a headless service. The origin's host is the service name (the
 * pool resolves it) and the name sent as Host and TLS servername; its port is the endpoints'
 * port unless the pool options give `port` or `portName`.
 */
export function createClient(options: ClientOptions): HeadlessClient<Pool>
export function createClient<P extends LeasePool>(options: ClientWithPoolOptions<P>): HeadlessClient<P>
export function createClient(
  options: ClientOptions | ClientWithPoolOptions<LeasePool>,
): HeadlessClient<LeasePool> {
  const all = requireObject('options', options)
  const { origin: originOption, pool: givenPool, ...rest } = all as ClientOwnOptions & Record<string, unknown>
  const origin = parseOrigin('origin', originOption)
  const split = splitOptions('', rest, CLIENT_OPTION_AREAS)
  const httpOptions = split.http
  const poolOptions = { ...split.discovery, ...split.balancing }
  if (poolOptions.service !== undefined) {
    throw invalidType(
      'service',
      'absent: the host of origin names the service',
      poolOptions.service,
      `Put the service name in origin, e.g. origin: 'http://${String(poolOptions.service)}:8080'`,
    )
  }
  if (origin.protocol === 'http:' && httpOptions.tls !== undefined) {
    throw invalidType(
      'tls',
      'absent for an http: origin (TLS options apply to https: only)',
      httpOptions.tls,
      `Use origin: 'https://${origin.hostname}${origin.port === 80 ? '' : `:${origin.port}`}' to connect with TLS`,
    )
  }
  const http = resolveHttpOptions(
    httpOptions,
    '',
    givenPool === undefined ? isPrimaryConfigured(poolOptions) : undefined,
  )
  let pool = givenPool
  let closePool: (() => Promise<void>) | undefined
  if (pool === undefined) {
    const port = poolPort(poolOptions, origin.port)
    const made = createServicePool({
      ...poolOptions,
      service: origin.hostname,
      port: port as number,
      // One option for the client's metrics and its pool's.
      ...(http.meterProvider === undefined ? {} : { meterProvider: http.meterProvider }),
    } as PoolOptions)
    pool = made.pool
    closePool = () => made.close()
  } else if (Object.keys(poolOptions).length > 0) {
    const [first = ''] = Object.keys(poolOptions)
    throw poolOptionBesidePool('', first, poolOptions[first])
  }
  const dispatcher = new BalancedDispatcher({
    pool,
    ...(closePool === undefined ? {} : { closePool }),
    protocol: origin.protocol,
    hostname: origin.hostname,
    origin: origin.origin,
    http,
  })
  return new HeadlessClient(origin.origin, dispatcher)
}
