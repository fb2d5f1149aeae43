import { isIP } from 'node:net'
import {
  durationMs,
  integerIn,
  invalidType,
  keysOf,
  oneOf,
  optionPath,
  outOfRange,
  portNumber,
  rejectUnknownKeys,
  requireObject,
} from '../options.js'
import { invalidServiceNameReason } from './dns-name.js'

/**
 * Options that say how to find the service's endpoints. `createPool` takes these together with
 * the balancing options; the HTTP client takes both plus its own.
 */
export interface DiscoveryOptions {
  /** FQDN (`web.default.svc.cluster.local`) or a short name (`web`, `web.default`) expanded with resolv.conf `search`/`ndots`. */
  service: string
  /** The endpoints' port. Exactly one of `port` and `portName` (SRV) unless `addresses` carry ports. */
  port?: number
  /** Named port: resolves SRV `_<portName>._tcp.<service>` for ports, priorities, weights and pod names. */
  portName?: string
  /** Address families to resolve. Default 4. */
  family?: 4 | 6 | 'dual'
  /** Known pod names (`['db-0', 'db-1']` -> `db-0.<service>`), resolved one by one. */
  pods?: ReadonlyArray<string>
  /** A static list of `address` or `address:port` (`[v6]:port`): no DNS at all. For local development and tests. */
  addresses?: ReadonlyArray<string>
  dns?: {
    /** `host` or `host:port` (`[v6]:port`) of DNS servers, IP addresses only. Default: the system's (resolv.conf). */
    servers?: ReadonlyArray<string>
    /** Per-query timeout in ms (c-ares doubles it on each retry). Default 1000. */
    timeout?: number
    /** Tries per server. Default 2. */
    tries?: number
    /** Search list used to expand short names. Default: `search` from /etc/resolv.conf. */
    search?: ReadonlyArray<string>
    /** Names with fewer dots than this are tried with the search list first. Default: resolv.conf `ndots`, else 1. */
    ndots?: number
  }
  /** Lower clamp of the TTL-driven refresh interval, and the rate limit of `refresh()`, ms. Default 1000. */
  minRefresh?: number
  /** Upper clamp of the refresh interval, and of the error backoff, ms. Default 30000. */
  maxRefresh?: number
  /** How long `ready()` waits for the first successful resolution by default, ms. Default 10000. */
  readyTimeout?: number
}

/** Every key of {@link DiscoveryOptions} (checked complete by the compiler). */
export const DISCOVERY_OPTION_KEYS: ReadonlyArray<keyof DiscoveryOptions> = keysOf<DiscoveryOptions>({
  service: true,
  port: true,
  portName: true,
  family: true,
  pods: true,
  addresses: true,
  dns: true,
  minRefresh: true,
  maxRefresh: true,
  readyTimeout: true,
})

/**
 * The discovery part of a composite options object (pool or client options), for
 * `createEndpointSource`. Other areas' keys are left to their owners, and the composite's
 * validator rejects keys no area knows (with DISCOVERY_OPTION_KEYS).
 */
export function pickDiscoveryOptions(options: unknown): unknown {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) return options
  const picked: Record<string, unknown> = {}
  for (const key of DISCOVERY_OPTION_KEYS) {
    if (key in options) picked[key] = (options as Record<string, unknown>)[key]
  }
  return picked
}

/** Every key of {@link NonNullable<DiscoveryOptions['dns']>} (checked complete by the compiler). */
const DNS_OPTION_KEYS = keysOf<NonNullable<DiscoveryOptions['dns']>>({
  servers: true,
  timeout: true,
  tries: true,
  search: true,
  ndots: true,
})

/** Defaults, with where they come from. */
export const DISCOVERY_DEFAULTS = Object.freeze({
  family: 4 as const,
  /** CoreDNS serves cluster records with a 5 s TTL (30 s max); 1 s keeps TTL 0 answers from hammering DNS. */
  minRefresh: 1000,
  /** The kubernetes plugin's maximum TTL: a set never lags more than this behind DNS. */
  maxRefresh: 30_000,
  dnsTimeout: 1000,
  dnsTries: 2,
  readyTimeout: 10_000,
})

/** A static address entry after parsing. */
export interface StaticAddress {
  readonly address: string
  readonly family: 4 | 6
  readonly port: number
}

/** Options after validation: defaults applied, `undefined` where the system's settings apply. */
export interface NormalizedDiscoveryOptions {
  readonly service: string
  readonly port: number | undefined
  readonly portName: string | undefined
  readonly family: 4 | 6 | 'dual'
  readonly pods: ReadonlyArray<string> | undefined
  readonly addresses: ReadonlyArray<StaticAddress> | undefined
  readonly dns: {
    readonly servers: ReadonlyArray<string> | undefined
    readonly timeout: number
    readonly tries: number
    readonly search: ReadonlyArray<string> | undefined
    readonly ndots: number | undefined
  }
  readonly minRefresh: number
  readonly maxRefresh: number
  readonly readyTimeout: number
}

function stringArray(path: string, value: unknown): ReadonlyArray<string> | undefined {
  if (value === undefined) return undefined
  if (!Array.isArray(value)) throw invalidType(path, 'an array of strings', value)
  value.forEach((item, i) => {
    if (typeof item !== 'string') throw invalidType(`${path}[${i}]`, 'a string', item)
  })
  return Object.freeze([...(value as string[])])
}

/** `10.0.0.1`, `10.0.0.1:53`, `::1`, `[::1]:53` -> parts, or undefined when it is none of these. */
export function parseHostPort(text: string): { host: string; port: number | undefined } | undefined {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text)
  if (bracketed) {
    const host = bracketed[1]!
    return isIP(host) === 6
      ? { host, port: bracketed[2] === undefined ? undefined : Number(bracketed[2]) }
      : undefined
  }
  if (isIP(text) !== 0) return { host: text, port: undefined }
  const hostPort = /^([^:]+):(\d+)$/.exec(text)
  if (hostPort && isIP(hostPort[1]!) === 4) return { host: hostPort[1]!, port: Number(hostPort[2]) }
  return undefined
}

function validPort(port: number | undefined): boolean {
  return port === undefined || (Number.isInteger(port) && port >= 1 && port <= 65535)
}

/**
 * Validates discovery options and applies defaults. Throws `TypeError`/`RangeError` naming the
 * option path (`path` prefixes it, e.g. `'discovery'`). Conflicts are rejected rather than
 * resolved by precedence, because a silently ignored option is a production surprise.
 */
export function validateDiscoveryOptions(options: unknown, path = ''): NormalizedDiscoveryOptions {
  const o = requireObject(path || 'options', options)
  rejectUnknownKeys(path, o, DISCOVERY_OPTION_KEYS)

  const servicePath = optionPath(path, 'service')
  if (typeof o.service !== 'string') {
    throw invalidType(servicePath, 'a DNS name such as "web.default.svc.cluster.local"', o.service)
  }
  const reason = invalidServiceNameReason(o.service)
  if (reason) throw invalidType(servicePath, 'a valid DNS name (RFC 1123 labels)', o.service, reason)
  const service = o.service.toLowerCase()

  const port = o.port === undefined ? undefined : portNumber(optionPath(path, 'port'), o.port)
  let portName: string | undefined
  if (o.portName !== undefined) {
    // Kubernetes port names are IANA_SVC_NAME: 1-15 chars, lowercase alphanumerics and '-'.
    if (typeof o.portName !== 'string' || !/^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/.test(o.portName)) {
      throw invalidType(
        optionPath(path, 'portName'),
        'a Kubernetes port name (1-15 of a-z, 0-9, "-")',
        o.portName,
      )
    }
    portName = o.portName
  }
  const family = oneOf<4 | 6 | 'dual'>(
    optionPath(path, 'family'),
    o.family,
    [4, 6, 'dual'],
    DISCOVERY_DEFAULTS.family,
  )

  const podsPath = optionPath(path, 'pods')
  // Lower-cased as the service is: Endpoint.name must compare with primary.name and SRV names.
  const pods = stringArray(podsPath, o.pods)?.map((pod, i) => {
    if (pod.includes('.') || invalidServiceNameReason(pod)) {
      throw invalidType(`${podsPath}[${i}]`, 'a pod name (one DNS label, such as "db-0")', pod)
    }
    return pod.toLowerCase()
  })
  if (pods && pods.length === 0) throw outOfRange(podsPath, 'a non-empty array of pod names', o.pods)

  const addressesPath = optionPath(path, 'addresses')
  const rawAddresses = stringArray(addressesPath, o.addresses)
  let addresses: StaticAddress[] | undefined
  if (rawAddresses) {
    if (rawAddresses.length === 0)
      throw outOfRange(addressesPath, 'a non-empty array of addresses', o.addresses)
    addresses = rawAddresses.map((entry, i) => {
      const parsed = parseHostPort(entry)
      const entryPath = `${addressesPath}[${i}]`
      if (!parsed) throw invalidType(entryPath, 'an IP address, "ip:port" or "[ipv6]:port"', entry)
      if (!validPort(parsed.port))
        throw outOfRange(entryPath, 'an address with a port from 1 to 65535', entry)
      const entryPort = parsed.port ?? port
      if (entryPort === undefined) {
        throw invalidType(entryPath, 'an address with a port', entry, 'Add ":port" or set the port option')
      }
      return Object.freeze({ address: parsed.host, family: isIP(parsed.host) as 4 | 6, port: entryPort })
    })
  }

  // Conflicts: each source needs exactly what it uses.
  if (port !== undefined && portName !== undefined) {
    throw invalidType(
      optionPath(path, 'portName'),
      'absent when port is set',
      portName,
      'Set either port or portName',
    )
  }
  if (addresses && pods) {
    throw invalidType(podsPath, 'absent when addresses is set', o.pods, 'Static addresses need no DNS')
  }
  if (addresses && portName !== undefined) {
    throw invalidType(optionPath(path, 'portName'), 'absent when addresses is set', portName, 'SRV needs DNS')
  }
  if (addresses) {
    // A static list has no DNS to shape: these would be accepted and silently do nothing.
    for (const [key, hint] of [
      ['family', 'The addresses give their own families'],
      ['minRefresh', 'Static addresses are never refreshed'],
      ['maxRefresh', 'Static addresses are never refreshed'],
      ['readyTimeout', 'Static addresses are ready at once'],
    ] as const) {
      if (o[key] !== undefined)
        throw invalidType(optionPath(path, key), 'absent when addresses is set', o[key], hint)
    }
  }
  if (pods && portName !== undefined) {
    throw invalidType(
      optionPath(path, 'portName'),
      'absent when pods is set',
      portName,
      'Pod names need a port',
    )
  }
  if (!addresses && port === undefined && portName === undefined) {
    throw invalidType(optionPath(path, 'port'), 'a port number (or set portName)', o.port)
  }

  const dnsPath = optionPath(path, 'dns')
  const dnsRaw = o.dns === undefined ? {} : requireObject(dnsPath, o.dns)
  rejectUnknownKeys(dnsPath, dnsRaw, DNS_OPTION_KEYS)
  if (addresses && o.dns !== undefined) {
    throw invalidType(dnsPath, 'absent when addresses is set', o.dns, 'Static addresses need no DNS')
  }
  const servers = stringArray(optionPath(dnsPath, 'servers'), dnsRaw.servers)
  servers?.forEach((server, i) => {
    const parsed = parseHostPort(server)
    if (!parsed) {
      throw invalidType(`${dnsPath}.servers[${i}]`, 'an IP address, "ip:port" or "[ipv6]:port"', server)
    }
    if (!validPort(parsed.port))
      throw outOfRange(`${dnsPath}.servers[${i}]`, 'a port from 1 to 65535', server)
  })
  if (servers && servers.length === 0) throw outOfRange(`${dnsPath}.servers`, 'a non-empty array', servers)
  const search = stringArray(optionPath(dnsPath, 'search'), dnsRaw.search)?.map((domain, i) => {
    const trimmed = domain.replace(/\.$/, '')
    if (invalidServiceNameReason(trimmed))
      throw invalidType(`${dnsPath}.search[${i}]`, 'a domain name', domain)
    return trimmed.toLowerCase()
  })
  const ndots = dnsRaw.ndots === undefined ? undefined : integerIn(`${dnsPath}.ndots`, dnsRaw.ndots, 1, 0, 15)
  const timeout = durationMs(`${dnsPath}.timeout`, dnsRaw.timeout, DISCOVERY_DEFAULTS.dnsTimeout, 1)
  const tries = integerIn(`${dnsPath}.tries`, dnsRaw.tries, DISCOVERY_DEFAULTS.dnsTries, 1, 10)

  const minRefresh = durationMs(
    optionPath(path, 'minRefresh'),
    o.minRefresh,
    DISCOVERY_DEFAULTS.minRefresh,
    1,
  )
  const maxRefresh = durationMs(
    optionPath(path, 'maxRefresh'),
    o.maxRefresh,
    DISCOVERY_DEFAULTS.maxRefresh,
    1,
  )
  if (maxRefresh < minRefresh) {
    throw outOfRange(
      optionPath(path, 'maxRefresh'),
      `a number of milliseconds >= ${optionPath(path, 'minRefresh')} (${minRefresh})`,
      maxRefresh,
    )
  }
  const readyTimeout = durationMs(
    optionPath(path, 'readyTimeout'),
    o.readyTimeout,
    DISCOVERY_DEFAULTS.readyTimeout,
    1,
  )

  return Object.freeze({
    service,
    port,
    portName,
    family,
    pods: pods ? Object.freeze(pods) : undefined,
    addresses: addresses ? Object.freeze(addresses) : undefined,
    dns: Object.freeze({
      servers,
      timeout,
      tries,
      search: search ? Object.freeze(search) : undefined,
      ndots,
    }),
    minRefresh,
    maxRefresh,
    readyTimeout,
  })
}
