import { EventEmitter } from 'node:events'
import { debuglog } from 'node:util'
import { resolveBalancingOptions } from '../balancing/balancing-options.js'
import type { DiscoveryOptions } from '../discovery/discovery-options.js'
import { validateDiscoveryOptions } from '../discovery/discovery-options.js'
import type { Endpoint } from '../endpoint.js'
import type { HealthCheckFunction, HealthCheckOptions } from '../health/health-options.js'
import { invalidType, outOfRange, rejectUnknownKeys, requireObject } from '../options.js'
import type { Pool, PoolInternals } from '../pool.js'
import type { GrpcLike } from './grpc-like.js'
import { createResolverClass } from './headless-resolver.js'

const debug = debuglog('headless-lb')

/**
 * Options of `registerHeadlessResolver`: how to resolve and check every target of the scheme.
 * The target names the service and its port (`headless:///rpc.default.svc.cluster.local:50051`,
 * or a port name for SRV: `...:grpc`).
 */
export interface HeadlessResolverOptions
  extends Pick<DiscoveryOptions, 'family' | 'dns' | 'minRefresh' | 'maxRefresh' | 'readyTimeout'> {
  /** The URI scheme to register. Default `headless`. */
  scheme?: string
  /** Active health checks of each endpoint (e.g. `{ tcp: true }`): an unfit one leaves the list grpc-js gets. Default none. */
  healthCheck?: HealthCheckOptions | HealthCheckFunction
  /** Below this share of fit endpoints (0..1) every endpoint is listed again (the pool's panic mode). Default 0.5. */
  panicThreshold?: number
}

/** `update` event: the endpoint list handed to grpc-js for one channel's target changed. */
export interface HeadlessResolverUpdate {
  /** The target as the channel names it (`headless:///rpc.default.svc.cluster.local:50051`). */
  readonly target: string
  readonly service: string
  /** What grpc-js now balances over (fit endpoints; every endpoint in panic mode). */
  readonly endpoints: ReadonlyArray<Endpoint>
  /** Why the list is empty (no records, or none fit); '' when it is not. grpc-js puts it in call errors. */
  readonly note: string
}

/** The events of a {@link HeadlessResolverRegistration}, as `EventEmitter` listener arguments. */
export interface HeadlessResolverRegistrationEvents {
  update: [HeadlessResolverUpdate]
  /** A discovery error (DNS timeout, SERVFAIL...) of some channel's pool: the last set is kept meanwhile. */
  error: [Error]
}

const DISCOVERY_KEYS = ['family', 'dns', 'minRefresh', 'maxRefresh', 'readyTimeout'] as const
const POOL_KEYS = ['healthCheck', 'panicThreshold'] as const
const OPTION_KEYS = ['scheme', ...DISCOVERY_KEYS, ...POOL_KEYS]
/** Pool options that steer per-request picks and lease outcomes, which grpc-js does itself here. */
const GRPC_OWNED = ['balancer', 'outlierDetection', 'slowStart', 'ewma', 'nearestThreshold', 'primary']
/** Target forms in the target, not in the options. */
const IN_TARGET = ['service', 'port', 'portName', 'pods', 'addresses']
/** grpc-js's own schemes: replacing one would change targets that never asked for headless-lb. */
const BUILT_IN_SCHEMES = ['dns', 'unix', 'unix-abstract', 'ipv4', 'ipv6', 'xds', 'google-c2p']

/**
 * What `registerHeadlessResolver` returns: the registered scheme, the channels' live pools (for
 * `stats()`), and events. One registration serves every channel that uses its scheme.
 */
export class HeadlessResolverRegistration extends EventEmitter<HeadlessResolverRegistrationEvents> {
  readonly scheme: string
  readonly #pools = new Set<Pool>()
  #unhandledErrors = 0

  /** Use `registerHeadlessResolver`. */
  constructor(scheme: string) {
    super()
    this.scheme = scheme
  }

  /** One pool per channel that has left idle (grpc-js makes a resolver per channel). */
  get pools(): ReadonlyArray<Pool> {
    return [...this.#pools]
  }

  /** Discovery errors seen while no `error` listener was attached. */
  get unhandledErrors(): number {
    return this.#unhandledErrors
  }

  /** @internal */
  opened(pool: Pool): void {
    this.#pools.add(pool)
  }

  /** @internal */
  closed(pool: Pool): void {
    this.#pools.delete(pool)
  }

  /** @internal */
  reportError(error: Error): void {
    // An unheard 'error' would throw and take the process down over a transient DNS failure.
    if (this.listenerCount('error') > 0) this.emit('error', error)
    else {
      this.#unhandledErrors++
      debug('discovery error (no error listener on the grpc registration): %s', error)
    }
  }
}

/**
 * Registers a grpc-js resolver for the `headless` scheme (or `options.scheme`) on the grpc-js
 * module given: channels to `headless:///<service>:<port>` then balance over the service's live
 * pods, as DNS lists them (TTL-driven refresh, the last set kept while DNS fails, no records =
 * no pods) and as health checks find them, updated without breaking a connection that stays.
 *
 * Pass the module the application uses (`import * as grpc from '@grpc/grpc-js'`): grpc-js keeps
 * its resolvers per loaded copy. Validates every option now (TypeError/RangeError naming it).
 */
export function registerHeadlessResolver(
  grpc: GrpcLike,
  options: HeadlessResolverOptions = {},
  /** Test seams for every pool made (a clock, a fake DNS resolver), as createPool takes them. */
  internals: Omit<PoolInternals, 'source'> = {},
): HeadlessResolverRegistration {
  const registerResolver = (grpc as { experimental?: { registerResolver?: unknown } } | undefined)
    ?.experimental?.registerResolver
  if (typeof registerResolver !== 'function' || typeof grpc.Metadata !== 'function') {
    throw invalidType(
      'grpc',
      'the @grpc/grpc-js module',
      grpc,
      "Pass the module itself: import * as grpc from '@grpc/grpc-js', then registerHeadlessResolver(grpc, options)",
    )
  }
  const record = requireObject('options', options)
  for (const key of Object.keys(record)) {
    if (GRPC_OWNED.includes(key)) {
      throw invalidType(
        key,
        'absent',
        record[key],
        "grpc-js picks the endpoint of every call (set its policy with the channel option 'grpc.service_config'); headless-lb/grpc gives it the fit endpoints",
      )
    }
    if (IN_TARGET.includes(key)) {
      throw invalidType(
        key,
        'absent',
        record[key],
        'The target names the service and port: headless:///rpc.default.svc.cluster.local:50051, or a port name for SRV (...:grpc)',
      )
    }
  }
  rejectUnknownKeys('', record, OPTION_KEYS)
  const scheme = record.scheme ?? 'headless'
  if (typeof scheme !== 'string' || !/^[a-z][a-z0-9+.-]*$/i.test(scheme)) {
    throw invalidType('scheme', 'a URI scheme (a letter, then letters, digits, "+", "-", ".")', scheme)
  }
  if (BUILT_IN_SCHEMES.includes(scheme.toLowerCase())) {
    throw outOfRange(
      'scheme',
      `not one of grpc-js's own schemes (${BUILT_IN_SCHEMES.join(', ')})`,
      scheme,
      'Keep the default, headless, or choose another name',
    )
  }
  const poolOptions: Record<string, unknown> = {}
  for (const key of [...DISCOVERY_KEYS, ...POOL_KEYS])
    if (record[key] !== undefined) poolOptions[key] = record[key]
  // The same validators createPool runs, now rather than when a channel first resolves.
  const discovery: Record<string, unknown> = { service: 'registration.check', port: 1 }
  for (const key of DISCOVERY_KEYS) if (record[key] !== undefined) discovery[key] = record[key]
  validateDiscoveryOptions(discovery)
  resolveBalancingOptions(poolOptions)

  const registration = new HeadlessResolverRegistration(scheme)
  const resolverClass = createResolverClass({
    grpc,
    scheme,
    poolOptions: Object.freeze(poolOptions),
    poolInternals: internals,
    track: {
      opened: (pool) => registration.opened(pool),
      closed: (pool) => registration.closed(pool),
      update: (target, endpoints, note) =>
        registration.emit('update', { target: target.text, service: target.service, endpoints, note }),
      error: (error) => registration.reportError(error),
    },
  })
  grpc.experimental.registerResolver(scheme, resolverClass as never)
  return registration
}
