import type { Exclusions } from '../balancing/balancer.js'
import { isExcluded } from '../balancing/balancer.js'
import type { ResolvedPrimary } from '../balancing/balancing-options.js'
import { describeEndpoint } from '../endpoint.js'
import type { EndpointState } from '../health/endpoint-state.js'
import type { SelectionPlan } from '../roles/roles.js'

/**
 * What a request asked for, as a NoEndpointsError names it: `any` (no role), `replica`,
 * `primaryPreferred`, `replicaPreferred` or `nearest`.
 */
export type WantedGroup = 'any' | 'replica' | 'primaryPreferred' | 'replicaPreferred' | 'nearest'

/**
 * Why no endpoint could take a request, in one sentence for a NoEndpointsError. A pure function
 * of the members and the options: it runs only when a pick has already failed.
 */
export function noEndpointsReason(
  wanted: WantedGroup,
  members: ReadonlyArray<EndpointState>,
  primaryOption: ResolvedPrimary,
  primary: EndpointState | undefined,
  exclude: Exclusions,
): string {
  const total = members.length
  if (total === 0) return 'discovery lists no endpoint'
  const excluded = exclude?.length ? ' and not excluded' : ''
  if (wanted === 'replica' || wanted === 'replicaPreferred' || wanted === 'primaryPreferred') {
    if (primaryOption.kind === 'none') {
      return 'roles are unknown (no primary option), so no endpoint is known to be a replica'
    }
    const replicas = members.filter((s) => s.role === 'replica').length
    return replicas === 0
      ? `none of ${total} endpoints is known to be a replica${primary ? '' : ' and no primary is known'}`
      : `no replica${wanted === 'replica' ? '' : ' or primary'} is fit${excluded}`
  }
  if (wanted === 'nearest' && primaryOption.kind === 'none') {
    return 'roles are unknown (no primary option); nearest chooses among primary and replicas'
  }
  return `none of ${total} endpoints is fit${excluded} (${describeHealth(members)})`
}

/** Why no primary could take a request, in one sentence for a NoPrimaryError. */
export function noPrimaryReason(
  primaryOption: ResolvedPrimary,
  primary: EndpointState | undefined,
  exclude: Exclusions,
): string {
  if (primaryOption.kind === 'none') return 'no primary option is configured'
  if (primary === undefined) {
    return primaryOption.kind === 'probe'
      ? 'no endpoint answered the primary probe with "primary"'
      : `no endpoint matches ${primaryOption.kind === 'ordinal' ? `ordinal ${primaryOption.ordinal}` : `name ${primaryOption.name}`}`
  }
  if (exclude !== undefined && isExcluded(primary, exclude)) {
    return `the primary ${describeEndpoint(primary.endpoint)} is excluded`
  }
  return `the primary ${describeEndpoint(primary.endpoint)} is ${primary.health}`
}

/** `2 healthy, 1 ejected`: the members' health, counted, in order of first appearance. */
function describeHealth(members: ReadonlyArray<EndpointState>): string {
  const counts = new Map<string, number>()
  for (const s of members) counts.set(s.health, (counts.get(s.health) ?? 0) + 1)
  return [...counts].map(([health, n]) => `${n} ${health}`).join(', ')
}

/** The group a selection plan other than SELECT_PRIMARY asks for, indexed by plan. */
const WANTED: ReadonlyArray<WantedGroup> = [
  'any',
  'any',
  'replica',
  'primaryPreferred',
  'replicaPreferred',
  'nearest',
]

/** The group a request's selection plan asks for (SELECT_PRIMARY has its own NoPrimaryError). */
export function wantedGroup(plan: SelectionPlan): WantedGroup {
  return WANTED[plan]!
}
