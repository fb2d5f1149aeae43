import type { Clock } from '../internal/clock.js'
import { systemClock } from '../internal/clock.js'
import type { DiscoveryOptions, StaticAddress } from './discovery-options.js'
import { pickDiscoveryOptions, validateDiscoveryOptions } from './discovery-options.js'
import type { ResolverFactory } from './dns-client.js'
import { createSystemResolver, DnsClient } from './dns-client.js'
import { DnsEndpointSource } from './dns-endpoint-source.js'
import type { EndpointSource } from './endpoint-source.js'
import type { ResolvConf } from './resolv-conf.js'
import { readResolvConf } from './resolv-conf.js'
import { EndpointResolver } from './resolve-endpoints.js'
import { StaticEndpointSource } from './static-endpoint-source.js'

/** Test seams: everything discovery takes from the outside world. */
export interface DiscoveryInternals {
  /** Makes the DNS resolver; default `new Resolver(options)` from node:dns/promises. */
  createResolver?: ResolverFactory
  clock?: Clock
  /** Returns [0, 1); used for jitter. Default Math.random. */
  random?: () => number
  /** resolv.conf contents for search/ndots defaults; default: read /etc/resolv.conf. */
  resolvConf?: ResolvConf
}

/**
 * Builds the endpoint source the options describe: DNS (A/AAAA, SRV or pod names) or a static
 * list. Validates the discovery options first (TypeError/RangeError naming the option). Keys of
 * other areas are ignored here, since `createPool` passes its whole options object and rejects
 * unknown keys itself; call `validateDiscoveryOptions` for a strict check of discovery options
 * alone. DNS resolution starts at once; await `ready()` for the first answer.
 */
export function createEndpointSource(
  options: DiscoveryOptions,
  internals: DiscoveryInternals = {},
): EndpointSource {
  const normalized = validateDiscoveryOptions(pickDiscoveryOptions(options))
  if (normalized.addresses) {
    return new StaticEndpointSource({
      ...normalized,
      addresses: normalized.addresses as ReadonlyArray<StaticAddress>,
    })
  }
  const clock = internals.clock ?? systemClock
  const { search, ndots } = normalized.dns
  // resolv.conf is read only when the options leave something to it.
  const conf =
    search === undefined || ndots === undefined ? (internals.resolvConf ?? readResolvConf()) : undefined
  const resolver = (internals.createResolver ?? createSystemResolver)({
    timeout: normalized.dns.timeout,
    tries: normalized.dns.tries,
  })
  if (normalized.dns.servers) resolver.setServers(normalized.dns.servers)
  const client = new DnsClient(resolver, search ?? conf?.search ?? [], ndots ?? conf?.ndots ?? 1)
  return new DnsEndpointSource(normalized, new EndpointResolver(normalized, client, clock), {
    clock,
    random: internals.random ?? Math.random,
    cancel: () => resolver.cancel(),
  })
}
