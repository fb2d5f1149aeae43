import type { ResolvedPrimary } from '../balancing/balancing-options.js'
import type { Endpoint } from '../endpoint.js'
import type { EndpointRole } from '../health/endpoint-state.js'
import type { ReadPreference, Role } from '../lease.js'
import { invalidType } from '../options.js'

/**
 * Primary/replica selection as pure functions of the request and the topology, in the manner of
 * the MongoDB driver's server selection: easy to test exhaustively, no I/O.
 *
 * A request resolves to a selection plan: which groups to try, in order.
 */
export const SELECT_ANY = 0
export const SELECT_PRIMARY = 1
export const SELECT_REPLICA = 2
export const SELECT_PRIMARY_PREFERRED = 3
export const SELECT_REPLICA_PREFERRED = 4
export const SELECT_NEAREST = 5
export type SelectionPlan = 0 | 1 | 2 | 3 | 4 | 5

/**
 * `readPreference` wins when given; `role` is the short form (`primary` = readPreference
 * `primary`, `replica` = `replica`). A role that contradicts the read preference is a bug in the
 * caller: `role: 'primary'` with a read preference that may return a replica throws a TypeError.
 */
export function selectionPlan(
  role: Role | undefined,
  readPreference: ReadPreference | undefined,
): SelectionPlan {
  if (readPreference === undefined) {
    if (role === undefined || role === 'any') return SELECT_ANY
    if (role === 'primary') return SELECT_PRIMARY
    if (role === 'replica') return SELECT_REPLICA
    throw invalidType('pick options.role', 'one of "primary", "replica", "any"', role)
  }
  let plan: SelectionPlan
  switch (readPreference) {
    case 'primary':
      plan = SELECT_PRIMARY
      break
    case 'primaryPreferred':
      plan = SELECT_PRIMARY_PREFERRED
      break
    case 'replica':
      plan = SELECT_REPLICA
      break
    case 'replicaPreferred':
      plan = SELECT_REPLICA_PREFERRED
      break
    case 'nearest':
      plan = SELECT_NEAREST
      break
    default:
      throw invalidType(
        'pick options.readPreference',
        'one of "primary", "primaryPreferred", "replica", "replicaPreferred", "nearest"',
        readPreference,
      )
  }
  if ((role === 'primary' && plan !== SELECT_PRIMARY) || (role === 'replica' && plan !== SELECT_REPLICA)) {
    throw invalidType(
      'pick options.role',
      `consistent with readPreference ${JSON.stringify(readPreference)}`,
      role,
      'Pass only readPreference, or role "any"',
    )
  }
  return plan
}

/** The role of an endpoint under a static `primary` option (ordinal or name); `unknown` otherwise. */
export function staticRole(endpoint: Endpoint, primary: ResolvedPrimary): EndpointRole {
  switch (primary.kind) {
    case 'ordinal':
      if (endpoint.ordinal === undefined) return 'unknown'
      return endpoint.ordinal === primary.ordinal ? 'primary' : 'replica'
    case 'name':
      if (endpoint.name === undefined) return 'unknown'
      return endpoint.name === primary.name ? 'primary' : 'replica'
    default:
      return 'unknown'
  }
}

/** What a probe said about one endpoint, and since when it has said `primary`. */
export interface ProbedRole {
  readonly id: string
  readonly role: EndpointRole
  /**
   * Time of the probe result that first said `primary` in the current run of `primary` answers.
   * A failed probe does not end the run (it says nothing about the role); a `replica` answer does.
   */
  readonly primarySince: number
}

/**
 * The one primary among probe results. During a failover two servers may both answer `primary`
 * for a while (a promoted standby and an old primary not yet fenced): the one that became primary
 * most recently wins, because a promotion is the newer fact. Ties go to the first in member order.
 */
export function choosePrimary(probed: ReadonlyArray<ProbedRole>): string | undefined {
  let best: ProbedRole | undefined
  for (const p of probed) {
    if (p.role !== 'primary') continue
    if (best === undefined || p.primarySince > best.primarySince) best = p
  }
  return best?.id
}
