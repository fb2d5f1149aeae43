import { requireObject } from '../options.js'
import { BalancedDispatcher } from './balanced-dispatcher.js'
import {
  type ClientOwnOptions,
  HTTP_OPTION_KEYS,
  isPrimaryConfigured,
  resolveHttpOptions,
} from './client-options.js'
import { HeadlessClient } from './headless-client.js'
import { parseOrigin } from './parse-origin.js'
import { type ClientPoolOptions, createServicePool } from './pool-factory.js'

/** createClient's options: the origin, the HTTP options, and everything createPool takes. */
export type ClientOptions = ClientOwnOptions & ClientPoolOptions

/**
 * Creates an HTTP client for a headless service. The origin's host is the service name (the
 * pool resolves it) and the name sent as Host and TLS servername; its port is the endpoints'
 * port unless the pool options give `port` or `portName`.
 */
export function createClient(options: ClientOptions): HeadlessClient {
  const all = requireObject('options', options)
  const { origin: originOption, pool: givenPool, ...rest } = all as ClientOwnOptions & Record<string, unknown>
  const origin = parseOrigin('origin', originOption)
  const httpOptions: Record<string, unknown> = {}
  const poolOptions: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(rest)) {
    if (HTTP_OPTION_KEYS.includes(key)) httpOptions[key] = value
    else poolOptions[key] = value
  }
  const http = resolveHttpOptions(httpOptions, '', isPrimaryConfigured(poolOptions))
  let pool = givenPool
  if (pool === undefined) {
    const port =
      poolOptions.port === undefined && poolOptions.portName === undefined ? origin.port : poolOptions.port
    pool = createServicePool({ ...poolOptions, service: origin.hostname, port: port as number })
  } else if (Object.keys(poolOptions).length > 0) {
    throw new TypeError(
      `options.${Object.keys(poolOptions)[0]} is a pool option, but options.pool gives a pool already: configure that pool instead`,
    )
  }
  const dispatcher = new BalancedDispatcher({
    pool,
    ownsPool: givenPool === undefined,
    protocol: origin.protocol,
    hostname: origin.hostname,
    port: origin.port,
    http,
  })
  return new HeadlessClient(origin.origin, dispatcher)
}
