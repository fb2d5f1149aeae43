import type { DiscoveryInternals } from '../discovery/create-endpoint-source.js'
import { createEndpointSource } from '../discovery/create-endpoint-source.js'
import type { EndpointSource } from '../discovery/endpoint-source.js'
import { PortMappedSource } from '../discovery/port-mapped-source.js'
import type { Clock } from '../internal/clock.js'
import { namesPort, poolPort } from '../internal/default-port.js'
import { invalidType, requireObject, splitOptions } from '../options.js'
import { createPool, type PoolOptions } from '../pool.js'
import {
  HTTP_OPTION_KEYS,
  type HttpOptions,
  isPrimaryConfigured,
  type ResolvedHttpOptions,
  resolveHttpOptions,
} from './client-options.js'
import type { LeasePool } from './lease-pool.js'
import type { ParsedOrigin } from './parse-origin.js'
import {
  CLIENT_OPTION_AREAS,
  type ClientPoolOptions,
  poolOptionBesidePool,
  type ServicePool,
  validateServicePoolOptions,
} from './pool-factory.js'

/** Per-service options: createPool's (port from the request's origin unless given), HTTP options, or a ready pool. */
export type AgentServiceOptions =
  | (ClientPoolOptions & HttpOptions & { pool?: undefined })
  | (HttpOptions & { pool: LeasePool })

/** What a balanced origin needs: its pool (and how to close it, when made here) and its HTTP options. */
export interface OpenedService {
  readonly pool: LeasePool
  /** Closes the pool made for this origin; undefined for a pool the caller gave. */
  readonly closePool: (() => Promise<void>) | undefined
  readonly http: ResolvedHttpOptions
}

/** Test seams (headless-lb/testing): the clock and DNS of discovery (and of the agent's idle sweep). */
export interface AgentInternals {
  clock?: Clock
  discovery?: DiscoveryInternals
}

/** One discovery shared by every origin (port) of a service, and how many pools read it. */
interface SharedDiscovery {
  readonly source: EndpointSource
  users: number
}

/**
 * The `services` option of the agents (HeadlessAgent for undici, HeadlessHttpAgent for
 * node:http), in one place so both read it alike: host names normalized, agent-wide HTTP
 * options as defaults that per-service ones override, every option validated at construction
 * (pools are made at a service's first request, so a mistake must not wait for it), and a pool
 * made per origin on demand. `checkHttp` lets an agent reject HTTP options it cannot honour.
 */
export class AgentServices {
  readonly #services = new Map<string, AgentServiceOptions>()
  readonly #defaults: Record<string, unknown> = {}
  readonly #discovery = new Map<string, SharedDiscovery>()
  readonly #internals: AgentInternals

  constructor(
    options: Record<string, unknown>,
    checkHttp: (path: string, options: Record<string, unknown>) => void = () => {},
    internals: AgentInternals = {},
  ) {
    this.#internals = internals
    for (const key of HTTP_OPTION_KEYS) if (options[key] !== undefined) this.#defaults[key] = options[key]
    checkHttp('', options)
    // Validate the agent-wide HTTP options now, not at the first request.
    // (Whether a primary is configured is each service's business: checked with its own options.)
    resolveHttpOptions(this.#defaults, '', undefined)
    const services = requireObject('services', options.services)
    for (const [name, serviceOptions] of Object.entries(services)) {
      const path = servicePath(name)
      const entry = requireObject(path, serviceOptions) as AgentServiceOptions
      checkHttp(path, entry as Record<string, unknown>)
      this.#resolveHttp(name, entry)
      validatePool(path, normalizeHost(name), entry)
      this.#services.set(normalizeHost(name), entry)
    }
  }

  /** Whether requests to this host name (any case, trailing dot or not) are balanced. */
  has(hostname: string): boolean {
    return this.#services.has(normalizeHost(hostname))
  }

  /**
   * The pool and HTTP options for a balanced origin, the pool made now unless the service gave
   * one; undefined for a host that is not listed. The port is the origin's unless the service
   * options say `port` or `portName`.
   */
  open(origin: ParsedOrigin): OpenedService | undefined {
    const name = normalizeHost(origin.hostname)
    const entry = this.#services.get(name)
    if (entry === undefined) return undefined
    const http = this.#resolveHttp(name, entry)
    if (entry.pool !== undefined) return { pool: entry.pool, closePool: undefined, http }
    const poolOptions = poolOptionsOf(servicePath(name), entry)
    const portFromUrl = !namesPort(poolOptions)
    const port = poolPort(poolOptions, origin.port)
    const made = this.#makePool(
      name,
      {
        ...poolOptions,
        service: name,
        port: port as number,
        // One option for the dispatcher's metrics and its pool's.
        ...(http.meterProvider === undefined ? {} : { meterProvider: http.meterProvider }),
      } as PoolOptions,
      portFromUrl,
    )
    return { pool: made.pool, closePool: () => made.close(), http }
  }

  /**
   * A pool for one origin of a service. DNS answers do not depend on the URL's port, so every
   * origin of a service reads one shared discovery (one refresh loop), seen on its own port; each
   * keeps its own health and balancing state. Static `addresses` need no sharing.
   */
  #makePool(host: string, options: PoolOptions, portFromUrl: boolean): ServicePool {
    const { clock, discovery } = this.#internals
    const withClock = clock === undefined ? {} : { clock }
    if (options.addresses !== undefined) {
      const pool = createPool(options, withClock)
      return { pool, close: () => pool.close() }
    }
    let shared = this.#discovery.get(host)
    if (shared === undefined) {
      shared = { source: createEndpointSource(options, { ...withClock, ...discovery }), users: 0 }
      this.#discovery.set(host, shared)
    }
    shared.users++
    const seen = new PortMappedSource(shared.source, portFromUrl ? options.port : undefined)
    const pool = createPool(options, { source: seen, ...withClock })
    const users = shared
    let closed: Promise<void> | undefined
    return {
      pool,
      close: () => {
        closed ??= Promise.all([pool.close(), seen.close(), this.#release(host, users)]).then(() => undefined)
        return closed
      },
    }
  }

  /** A pool stopped reading the service's discovery: the last one closes it. */
  #release(host: string, shared: SharedDiscovery): Promise<void> {
    if (--shared.users > 0) return Promise.resolve()
    if (this.#discovery.get(host) === shared) this.#discovery.delete(host)
    return shared.source.close()
  }

  #resolveHttp(name: string, entry: AgentServiceOptions): ResolvedHttpOptions {
    const merged: Record<string, unknown> = { ...this.#defaults }
    for (const key of HTTP_OPTION_KEYS) {
      const value = (entry as Record<string, unknown>)[key]
      if (value !== undefined) merged[key] = value
    }
    return resolveHttpOptions(
      merged,
      servicePath(name),
      entry.pool === undefined ? isPrimaryConfigured(entry as Record<string, unknown>) : undefined,
    )
  }
}

/**
 * The path of a service's options in messages: `services["web.default"]`, the key in brackets as
 * written (a service name holds dots, so `services.web.default` would be ambiguous).
 */
function servicePath(name: string): string {
  return `services[${JSON.stringify(name)}]`
}

/** The service's createPool options (its HTTP options and `pool` aside); unknown keys rejected. */
function poolOptionsOf(path: string, entry: AgentServiceOptions): Record<string, unknown> {
  const { pool: _pool, ...rest } = entry as Record<string, unknown>
  const split = splitOptions(path, rest, CLIENT_OPTION_AREAS)
  return { ...split.discovery, ...split.balancing }
}

/** Pool options are checked now, though the pool is made at the service's first request. */
function validatePool(path: string, host: string, entry: AgentServiceOptions): void {
  if ((entry as Record<string, unknown>).service !== undefined) {
    throw invalidType(
      `${path}.service`,
      'absent: the key of services names the service',
      (entry as Record<string, unknown>).service,
    )
  }
  const poolOptions = poolOptionsOf(path, entry)
  if (entry.pool !== undefined) {
    const [first] = Object.keys(poolOptions)
    if (first !== undefined) throw poolOptionBesidePool(path, first, poolOptions[first])
    return
  }
  // The port comes from the request's URL when neither port nor portName is given: any will do here.
  const port = poolPort(poolOptions, 80)
  validateServicePoolOptions(path, { ...poolOptions, service: host, port })
}

/** Host names as the agents compare them: lower case, without a trailing dot. */
export function normalizeHost(name: string): string {
  const host = name.toLowerCase()
  return host.endsWith('.') ? host.slice(0, -1) : host
}
