import { BALANCING_OPTION_KEYS, resolveBalancingOptions } from '../balancing/balancing-options.js'
import { DISCOVERY_OPTION_KEYS, validateDiscoveryOptions } from '../discovery/discovery-options.js'
import { rejectUnknownKeys } from '../options.js'
import { createPool, type Pool, type PoolOptions, requirePodNamesForPrimary } from '../pool.js'

/**
 * Everything `createPool` takes except the service, which the client takes from its origin's
 * host; `port` defaults to the origin's port unless `port` or `portName` is given.
 */
export type ClientPoolOptions = Omit<PoolOptions, 'service' | 'port'> & { port?: number }

/** A pool made for a client or agent, and how to close it with what it owns. */
export interface ServicePool {
  readonly pool: Pool
  close(): Promise<void>
}

/** Creates the pool for a service origin (one place, so the client and the agent build pools alike). */
export function createServicePool(options: PoolOptions): ServicePool {
  const pool = createPool(options)
  return { pool, close: () => pool.close() }
}

/**
 * Checks pool options as createPool would, without creating the pool (no DNS query starts):
 * the agent makes a service's pool at its first request, yet must reject a mistake at
 * construction. `path` prefixes the option names in messages (`options.services["web"]`).
 */
export function validateServicePoolOptions(path: string, options: Record<string, unknown>): void {
  try {
    rejectUnknownKeys('', options, [...DISCOVERY_OPTION_KEYS, ...BALANCING_OPTION_KEYS])
    requirePodNamesForPrimary(options, resolveBalancingOptions(options))
    const discovery: Record<string, unknown> = {}
    for (const key of DISCOVERY_OPTION_KEYS) if (options[key] !== undefined) discovery[key] = options[key]
    validateDiscoveryOptions(discovery)
  } catch (error) {
    if (error instanceof RangeError) throw new RangeError(`${path}.${error.message}`)
    if (error instanceof TypeError) throw new TypeError(`${path}.${error.message}`)
    throw error
  }
}
