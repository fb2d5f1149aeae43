import type { Endpoint, EndpointChange } from '../endpoint.js'
import { sameAddress } from '../endpoint.js'

/**
 * One client library connection pool (a `pg.Pool`, an ioredis client) per endpoint of a pool,
 * kept in step with the pool's `change` events: created when an endpoint appears, retired
 * (drained, then closed) when it leaves or moves to a new address, since a rescheduled pod is a
 * new server and the old connections reach nothing or the wrong one.
 */
export class EndpointClients<C> {
  private readonly create: (endpoint: Endpoint) => C
  private readonly retire: (client: C) => Promise<void>
  private readonly clients = new Map<string, { endpoint: Endpoint; client: C }>()
  private readonly retiring = new Set<Promise<void>>()
  private closed = false

  constructor(create: (endpoint: Endpoint) => C, retire: (client: C) => Promise<void>) {
    this.create = create
    this.retire = retire
  }

  /** For the pool's `change` event. */
  readonly onChange = (change: EndpointChange): void => {
    if (this.closed) return
    for (const endpoint of change.removed) this.drop(endpoint.id)
    for (const { current } of change.updated) {
      const entry = this.clients.get(current.id)
      if (entry !== undefined && !sameAddress(entry.endpoint, current)) this.drop(current.id)
    }
    for (const endpoint of change.added) this.get(endpoint)
  }

  /** The client for this endpoint (the lease's endpoint is always a current one). */
  get(endpoint: Endpoint): C {
    const entry = this.clients.get(endpoint.id)
    if (entry !== undefined && (entry.endpoint === endpoint || sameAddress(entry.endpoint, endpoint))) {
      return entry.client
    }
    if (entry !== undefined) this.drop(endpoint.id)
    const client = this.create(endpoint)
    // After close, a client made for a late caller is not kept: close() has already run.
    if (this.closed) this.retireOne(client)
    else this.clients.set(endpoint.id, { endpoint, client })
    return client
  }

  /** The client for this endpoint if one exists, without creating one. */
  peek(endpoint: Endpoint): C | undefined {
    const entry = this.clients.get(endpoint.id)
    return entry !== undefined && sameAddress(entry.endpoint, endpoint) ? entry.client : undefined
  }

  entries(): ReadonlyArray<{ readonly endpoint: Endpoint; readonly client: C }> {
    return [...this.clients.values()]
  }

  /** Retires every client and waits for those retired before too. Idempotent. */
  async close(): Promise<void> {
    this.closed = true
    for (const id of [...this.clients.keys()]) this.drop(id)
    while (this.retiring.size > 0) await Promise.allSettled([...this.retiring])
  }

  private drop(id: string): void {
    const entry = this.clients.get(id)
    if (entry === undefined) return
    this.clients.delete(id)
    this.retireOne(entry.client)
  }

  private retireOne(client: C): void {
    const done: Promise<void> = this.retire(client)
      .catch(() => {})
      .finally(() => this.retiring.delete(done))
    this.retiring.add(done)
  }
}
