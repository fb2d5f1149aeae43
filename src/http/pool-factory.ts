import { createEndpointSource } from '../discovery/create-endpoint-source.js'
import { DISCOVERY_OPTION_KEYS, type DiscoveryOptions } from '../discovery/discovery-options.js'
import { createPool, type Pool, type PoolOptions } from '../pool.js'

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

/**
 * Creates the pool for a service. The endpoint source is made here from the discovery half of
 * the options and handed to createPool, because createPool (at this commit) passes all of its
 * options to createEndpointSource, which rejects the balancing ones (`balancer`...). The pool
 * does not close a source it was given, so `close()` closes both.
 */
export function createServicePool(options: PoolOptions): ServicePool {
  const discovery: Record<string, unknown> = {}
  for (const key of DISCOVERY_OPTION_KEYS) {
    const value = (options as unknown as Record<string, unknown>)[key]
    if (value !== undefined) discovery[key] = value
  }
  // Validate everything (unknown keys included) before anything with a timer exists.
  const source = createEndpointSource(discovery as unknown as DiscoveryOptions)
  let pool: Pool
  try {
    pool = createPool(options, { source })
  } catch (error) {
    void source.close()
    throw error
  }
  return {
    pool,
    async close() {
      await pool.close()
      await source.close()
    },
  }
}
