import type { LeasePool } from './lease-pool.js'

/**
 * Everything `createPool` takes except what the client derives from its origin (service, and
 * port unless given). Until src/pool.ts lands this is an open record; createPool validates it.
 */
export type ClientPoolOptions = { readonly [option: string]: unknown }

/** Creates the pool for a service; swapped for the real createPool when the balancing work lands. */
export function createServicePool(options: { service: string; port: number } & ClientPoolOptions): LeasePool {
  throw new Error(
    `createPool is not available yet (service ${options.service}); pass a pool with the \`pool\` option`,
  )
}
