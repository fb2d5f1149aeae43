import type { ResolvedPrimary } from '../balancing/balancing-options.js'
import type { Endpoint, EndpointChange } from '../endpoint.js'
import { sameAddress } from '../endpoint.js'
import { EndpointState } from '../health/endpoint-state.js'
import { staticRole } from '../roles/roles.js'

/** What the pool does as membership changes, called in the order the change lists them. */
export interface MembershipHooks {
  /** A new endpoint, its role set. `seeded`: the pool had members before (slow start applies). */
  added(state: EndpointState, now: number, seeded: boolean): void
  /** A listed pod moved to a new address (same id): a new server behind an old name. */
  readdressed(state: EndpointState, now: number): void
  /** Discovery no longer lists the endpoint. */
  removed(state: EndpointState): void
}

/** What a change did, for what the pool does once every member is in place. */
export interface MembershipResult {
  /** Endpoints readdressed by this change (their health returns to the initial state). */
  readonly moved: ReadonlyArray<EndpointState>
  /** Something was added or moved: roles must be probed again. */
  readonly grew: boolean
}

/**
 * The pool's members: one EndpointState per endpoint id, kept across changes so load, latency
 * and the ejection count survive a reschedule. Applies discovery's own diff (`added`, `updated`,
 * `removed` of an EndpointChange, as EndpointSet computed it) rather than diffing the lists
 * again; the member order is the change's `endpoints` order (pickers tie-break by it).
 */
export class Membership {
  /** Every endpoint the pool knows, by id. */
  readonly states = new Map<string, EndpointState>()
  /** The listed endpoints' states, in discovery's order. Replaced, never mutated, on change. */
  members: EndpointState[] = []
  private seeded = false
  private readonly primary: ResolvedPrimary
  private readonly hooks: MembershipHooks

  constructor(primary: ResolvedPrimary, hooks: MembershipHooks) {
    this.primary = primary
    this.hooks = hooks
  }

  /** The first list a source gives (its `endpoints` before any change): all of it is added. */
  static initialChange(endpoints: ReadonlyArray<Endpoint>): EndpointChange {
    return { added: endpoints, removed: [], updated: [], endpoints }
  }

  apply(change: EndpointChange, now: number): MembershipResult {
    let grew = false
    const moved: EndpointState[] = []
    for (const endpoint of change.added) {
      const state = this.states.get(endpoint.id)
      // Listed twice, or an `added` for an id the pool has: the same pod, taken as an update.
      if (state !== undefined) this.update(state, endpoint, now, moved)
      else {
        this.add(endpoint, now)
        grew = true
      }
    }
    for (const { current } of change.updated) {
      const state = this.states.get(current.id)
      if (state !== undefined) this.update(state, current, now, moved)
      else {
        this.add(current, now)
        grew = true
      }
    }
    const members: EndpointState[] = []
    const listed = new Set<EndpointState>()
    for (const endpoint of change.endpoints) {
      const state = this.states.get(endpoint.id)
      if (state === undefined || listed.has(state)) continue
      listed.add(state)
      state.index = members.length
      members.push(state)
    }
    for (const endpoint of change.removed) {
      const state = this.states.get(endpoint.id)
      if (state !== undefined && !listed.has(state)) this.remove(state)
    }
    // A source whose change leaves out an endpoint it no longer lists: drop it all the same.
    if (this.states.size > members.length) {
      for (const state of [...this.states.values()]) if (!listed.has(state)) this.remove(state)
    }
    this.members = members
    if (members.length > 0) this.seeded = true
    return { moved, grew: grew || moved.length > 0 }
  }

  private add(endpoint: Endpoint, now: number): void {
    const state = new EndpointState(endpoint)
    this.states.set(state.id, state)
    state.role = staticRole(endpoint, this.primary)
    this.hooks.added(state, now, this.seeded)
  }

  /** Same pod: load, latency and the ejection count carry over; a new address starts afresh. */
  private update(state: EndpointState, endpoint: Endpoint, now: number, moved: EndpointState[]): void {
    if (state.endpoint === endpoint) return
    const previous = state.endpoint
    state.endpoint = endpoint
    state.weight = endpoint.weight ?? 1
    state.priority = endpoint.priority ?? 0
    if (this.primary.kind !== 'probe') state.role = staticRole(endpoint, this.primary)
    if (!sameAddress(previous, endpoint)) {
      this.hooks.readdressed(state, now)
      moved.push(state)
    }
  }

  private remove(state: EndpointState): void {
    this.states.delete(state.id)
    this.hooks.removed(state)
  }
}
