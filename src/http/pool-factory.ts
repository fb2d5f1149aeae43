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

/** Creates the pool for a service origin (one place, so the client and the agent build pools alike). */
export function createServicePool(options: PoolOptions): ServicePool {
  const pool = createPool(options)
  return { pool, close: () => pool.close() }
}
