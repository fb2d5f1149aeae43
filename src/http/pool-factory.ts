import { resolveBalancingOptions } from '../balancing/balancing-options.js'
import { validateDiscoveryOptions } from '../discovery/discovery-options.js'
import type { InvalidOptionError } from '../invalid-option-error.js'
import { invalidType, optionPath, splitOptions } from '../options.js'
import {
  createPool,
  POOL_OPTION_AREAS,
  type Pool,
  type PoolOptions,
  requirePodNamesForPrimary,
} from '../pool.js'
import { HTTP_OPTION_KEYS } from './client-options.js'

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
 * construction. `path` prefixes the option names in messages (`services["web"]`).
 */
export function validateServicePoolOptions(path: string, options: Record<string, unknown>): void {
  const { discovery } = splitOptions(path, options, POOL_OPTION_AREAS)
  requirePodNamesForPrimary(options, resolveBalancingOptions(options, path), path)
  validateDiscoveryOptions(discovery, path)
}

/** createClient's options (and an agent service's) by area: HTTP, then createPool's. */
export const CLIENT_OPTION_AREAS = Object.freeze({ http: HTTP_OPTION_KEYS, ...POOL_OPTION_AREAS })

/**
 * A pool option given beside `pool` (a pool made elsewhere): refused, since it would configure
 * nothing. `path` is the object holding both (`''` for createClient, `services["web"]`).
 */
export function poolOptionBesidePool(path: string, key: string, value: unknown): InvalidOptionError {
  return invalidType(
    optionPath(path, key),
    `absent when ${optionPath(path, 'pool')} is given (it is a pool option)`,
    value,
    'Configure that pool instead',
  )
}
