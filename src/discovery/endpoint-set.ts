import type { Endpoint, EndpointChange, EndpointUpdate } from '../endpoint.js'

const FIELDS = ['address', 'family', 'port', 'hostname', 'name', 'ordinal', 'priority', 'weight'] as const

function sameEndpoint(a: Endpoint, b: Endpoint): boolean {
  return FIELDS.every((field) => a[field] === b[field])
}

/** Display and iteration order: SRV priority, then StatefulSet ordinal, then id. Deterministic, so snapshots compare. */
function compareEndpoints(a: Endpoint, b: Endpoint): number {
  const byPriority = (a.priority ?? 0) - (b.priority ?? 0)
  if (byPriority !== 0) return byPriority
  const byOrdinal = (a.ordinal ?? Number.MAX_SAFE_INTEGER) - (b.ordinal ?? Number.MAX_SAFE_INTEGER)
  if (byOrdinal !== 0) return byOrdinal
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0
}

/**
 * The current endpoints, keyed by id, and the diff from one answer to the next. An endpoint that
 * keeps its id but changes (a pod rescheduled with a new IP) is `updated`; an unchanged one keeps
 * its very object, so identity comparisons and state kept by id both survive a refresh.
 */
export class EndpointSet {
  #byId = new Map<string, Endpoint>()
  #snapshot: ReadonlyArray<Endpoint> = Object.freeze([])

  get endpoints(): ReadonlyArray<Endpoint> {
    return this.#snapshot
  }

  get size(): number {
    return this.#byId.size
  }

  /** Replaces the set; returns the change, or undefined when nothing really changed. Duplicate ids keep the first. */
  apply(next: Iterable<Endpoint>): EndpointChange | undefined {
    const nextById = new Map<string, Endpoint>()
    for (const endpoint of next) if (!nextById.has(endpoint.id)) nextById.set(endpoint.id, endpoint)

    const added: Endpoint[] = []
    const updated: EndpointUpdate[] = []
    const removed: Endpoint[] = []
    for (const [id, endpoint] of nextById) {
      const previous = this.#byId.get(id)
      if (!previous) added.push(Object.freeze({ ...endpoint }))
      else if (!sameEndpoint(previous, endpoint)) {
        updated.push(Object.freeze({ previous, current: Object.freeze({ ...endpoint }) }))
      } else nextById.set(id, previous)
    }
    for (const [id, endpoint] of this.#byId) if (!nextById.has(id)) removed.push(endpoint)
    if (added.length === 0 && updated.length === 0 && removed.length === 0) return undefined

    for (const endpoint of added) nextById.set(endpoint.id, endpoint)
    for (const update of updated) nextById.set(update.current.id, update.current)
    this.#byId = nextById
    this.#snapshot = Object.freeze([...nextById.values()].sort(compareEndpoints))
    return Object.freeze({
      added: Object.freeze(added.sort(compareEndpoints)),
      removed: Object.freeze(removed.sort(compareEndpoints)),
      updated: Object.freeze(updated.sort((x, y) => compareEndpoints(x.current, y.current))),
      endpoints: this.#snapshot,
    })
  }
}
