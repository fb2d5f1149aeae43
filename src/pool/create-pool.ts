import type { BalancingOptions, ResolvedBalancingOptions } from '../balancing/balancing-options.js'
import { BALANCING_OPTION_KEYS, resolveBalancingOptions } from '../balancing/balancing-options.js'
import type { DiscoveryInternals } from '../discovery/create-endpoint-source.js'
import { createEndpointSource } from '../discovery/create-endpoint-source.js'
import type { DiscoveryOptions } from '../discovery/discovery-options.js'
import { DISCOVERY_OPTION_KEYS } from '../discovery/discovery-options.js'
import type { EndpointSource } from '../discovery/endpoint-source.js'
import type { Clock } from '../internal/clock.js'
import { invalidType, optionPath, requireObject, splitOptions } from '../options.js'
import { Pool } from './pool.js'

/** Everything `createPool` takes: where the endpoints are, and how to balance across them. */
export type PoolOptions = DiscoveryOptions & BalancingOptions

/** Test and embedding seams: an endpoint source instead of DNS, a clock, a random source. */
export interface PoolInternals {
  /** Used instead of `createEndpointSource(options)`. The pool does not close a source it was given. */
  source?: EndpointSource
  clock?: Clock
  /** Uniform in [0, 1). Default: a per-pool generator seeded from Math.random. */
  random?: () => number
  /** Passed to `createEndpointSource` when no `source` is given (with `clock`, unless it sets its own). */
  discovery?: DiscoveryInternals
}

/** createPool's options by area: what `splitOptions` sorts a pool's (or a client's) keys into. */
export const POOL_OPTION_AREAS = Object.freeze({
  discovery: DISCOVERY_OPTION_KEYS,
  balancing: BALANCING_OPTION_KEYS,
})

/** Builds a pool: discovery + health + balancing. Validates every option now. */
export function createPool(options: PoolOptions, internals: PoolInternals = {}): Pool {
  const record = requireObject('options', options)
  const { discovery: discoveryOptions } = splitOptions('', record, POOL_OPTION_AREAS)
  if (typeof record.service !== 'string' || record.service === '') {
    throw invalidType('service', 'a service name (web.default.svc.cluster.local or web)', record.service)
  }
  // Balancing options first: a mistake there must not leave DNS queries running.
  const resolved = resolveBalancingOptions(record)
  if (internals.source === undefined) requirePodNamesForPrimary(record, resolved)
  const source =
    internals.source ??
    createEndpointSource(discoveryOptions as unknown as DiscoveryOptions, {
      ...(internals.clock ? { clock: internals.clock } : {}),
      ...internals.discovery,
    })
  return new Pool(options.service, resolved, source, internals.source === undefined, internals)
}

/**
 * A primary chosen by ordinal or name needs pod names, which only SRV (`portName`) and `pods`
 * give; for discovery options that will make a DNS source (an explicit source may carry them).
 */
export function requirePodNamesForPrimary(
  record: Record<string, unknown>,
  resolved: ResolvedBalancingOptions,
  path = '',
): void {
  const primary = resolved.primary
  if (
    (primary.kind === 'ordinal' || primary.kind === 'name') &&
    record.portName === undefined &&
    record.pods === undefined
  ) {
    throw invalidType(
      optionPath(path, `primary.${primary.kind}`),
      'used with portName (SRV) or pods, which give pod names',
      primary.kind === 'ordinal' ? primary.ordinal : primary.name,
      'A/AAAA records of the service and static addresses carry none, so no endpoint would ever be the primary; ' +
        'set portName or pods, or find the primary with primary.probe',
    )
  }
}
