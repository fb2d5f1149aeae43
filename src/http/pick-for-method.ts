import type { PickOptions, ReadPreference } from '../lease.js'
import { invalidType, oneOf } from '../options.js'
import { READ_METHODS, ROUTES, type RouteOptions } from './client-options.js'

export const PICK_ANY: PickOptions = Object.freeze({})
export const PICK_PRIMARY: PickOptions = Object.freeze({ role: 'primary' })
const PICK_REPLICA: PickOptions = Object.freeze({ role: 'replica' })

/** The pick options of each read preference (frozen: shared by every request). */
export const PICK_BY_PREFERENCE: Readonly<Record<ReadPreference, PickOptions>> = Object.freeze({
  primary: PICK_PRIMARY,
  replica: PICK_REPLICA,
  primaryPreferred: Object.freeze({ readPreference: 'primaryPreferred' }),
  replicaPreferred: Object.freeze({ readPreference: 'replicaPreferred' }),
  nearest: Object.freeze({ readPreference: 'nearest' }),
})

/**
 * Where a request goes when routing by method: reads (RFC 9110 safe methods) follow the read
 * preference, every other method goes to the primary; without routing by method, anywhere.
 */
export function pickForMethod(
  method: string,
  routeByMethod: boolean,
  readPreference: ReadPreference,
): PickOptions {
  if (!routeByMethod) return PICK_ANY
  return READ_METHODS.includes(method) ? PICK_BY_PREFERENCE[readPreference] : PICK_PRIMARY
}

/**
 * The pick options for one request of a BalancedDispatcher: `route` wins, then the method when
 * routing by method. Throws on a route or key that is not one (a typed option error).
 */
export function pickForRequest(
  method: string,
  route: RouteOptions['route'],
  key: string | undefined,
  routeByMethod: boolean,
  readPreference: ReadPreference,
): PickOptions {
  // A misspelt route must not send a write to whichever endpoint comes next.
  if (route !== undefined) oneOf('route', route, ROUTES, 'any')
  if (key !== undefined && typeof key !== 'string') throw invalidType('key', 'a string', key)
  const pick =
    route === undefined
      ? pickForMethod(method, routeByMethod, readPreference)
      : route === 'any'
        ? PICK_ANY
        : PICK_BY_PREFERENCE[route]
  return key === undefined ? pick : { ...pick, key }
}
