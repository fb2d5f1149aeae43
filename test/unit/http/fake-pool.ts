import { EventEmitter } from 'node:events'
import type { Endpoint, EndpointChange } from '../../../src/endpoint.js'
import { NoEndpointsError, NoPrimaryError } from '../../../src/errors.js'
import type { LeasePool } from '../../../src/http/lease-pool.js'
import type { Lease, LeaseOutcome, PickOptions } from '../../../src/lease.js'

export interface Released {
  readonly endpoint: Endpoint
  readonly outcome: LeaseOutcome
}

/**
 * A stand-in for src/pool.ts in unit tests: round-robin over its endpoints, `<name>-0` is the
 * primary, ejects nothing. Records every acquire and release so tests can check the HTTP layer
 * feeds the pool what it should. (Unit tests may fake the pool, never HTTP.)
 */
export class FakePool extends EventEmitter implements LeasePool {
  readonly service: string
  endpoints: ReadonlyArray<Endpoint>
  readonly acquired: Array<{ endpoint: Endpoint; options: PickOptions | undefined }> = []
  readonly released: Released[] = []
  /** Endpoint ids `acquire` skips (as an ejected endpoint would be). */
  readonly ejected = new Set<string>()
  closed = 0
  refreshed = 0
  #next = 0
  #ready: Promise<void>

  constructor(service: string, endpoints: ReadonlyArray<Endpoint>, ready: Promise<void> = Promise.resolve()) {
    super()
    this.service = service
    this.endpoints = endpoints
    this.#ready = ready
  }

  ready(): Promise<void> {
    return this.#ready
  }

  pick(options?: PickOptions): Endpoint {
    const endpoint = this.#candidates(options)[this.#next % this.endpoints.length]
    return endpoint ?? (this.#candidates(options)[0] as Endpoint)
  }

  acquire(options?: PickOptions): Lease {
    const candidates = this.#candidates(options)
    const endpoint = candidates[this.#next++ % candidates.length] as Endpoint
    this.acquired.push({ endpoint, options })
    let done = false
    const lease = {
      endpoint,
      release: (outcome: LeaseOutcome) => {
        if (done) throw new Error(`lease on ${endpoint.id} released twice`)
        done = true
        this.released.push({ endpoint, outcome })
        // The real pool recycles lease objects: whoever reads a released lease gets garbage.
        lease.endpoint = RECYCLED
      },
    }
    return lease
  }

  #candidates(options?: PickOptions): Endpoint[] {
    const exclude = new Set((options?.exclude ?? []).map((e) => (typeof e === 'string' ? e : e.id)))
    let candidates = this.endpoints.filter((e) => !exclude.has(e.id) && !this.ejected.has(e.id))
    const role = options?.role ?? (options?.readPreference === 'primary' ? 'primary' : undefined)
    if (role === 'primary') {
      candidates = candidates.filter((e) => e.ordinal === 0)
      if (candidates.length === 0) throw new NoPrimaryError(this.service, 'no endpoint with ordinal 0')
    } else if (role === 'replica' || options?.readPreference === 'replica') {
      candidates = candidates.filter((e) => e.ordinal !== 0)
    } else if (options?.readPreference === 'replicaPreferred') {
      const replicas = candidates.filter((e) => e.ordinal !== 0)
      if (replicas.length > 0) candidates = replicas
    }
    if (candidates.length === 0) throw new NoEndpointsError(this.service, 'all endpoints excluded or ejected')
    return candidates
  }

  refresh(): void {
    this.refreshed++
  }

  setEndpoints(next: ReadonlyArray<Endpoint>): void {
    const before = new Map(this.endpoints.map((e) => [e.id, e]))
    const after = new Map(next.map((e) => [e.id, e]))
    const change: EndpointChange = {
      added: next.filter((e) => !before.has(e.id)),
      removed: this.endpoints.filter((e) => !after.has(e.id)),
      updated: next
        .filter((e) => before.has(e.id) && before.get(e.id)?.address !== e.address)
        .map((current) => ({ previous: before.get(current.id) as Endpoint, current })),
      endpoints: next,
    }
    this.endpoints = next
    this.emit('change', change)
  }

  async close(): Promise<void> {
    this.closed++
  }
}

const RECYCLED: Endpoint = { id: 'recycled-lease', address: '0.0.0.0', family: 4, port: 1 }

export function endpoint(name: string, address: string, port: number): Endpoint {
  const ordinal = Number(name.split('-').pop())
  return {
    id: `${name}.web.test`,
    address,
    family: 4,
    port,
    hostname: `${name}.web.test`,
    name,
    ...(Number.isInteger(ordinal) ? { ordinal } : {}),
  }
}
