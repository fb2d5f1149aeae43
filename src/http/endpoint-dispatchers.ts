import type { ConnectionOptions } from 'node:tls'
import { buildConnector, Pool } from 'undici'
import type { Endpoint, EndpointChange } from '../endpoint.js'
import { formatHostPort } from '../internal/format-host-port.js'

const NO_LOAD = { running: 0, free: 0, pending: 0 } as const

interface Entry {
  readonly address: string
  readonly port: number
  readonly pool: Pool
}

export interface EndpointDispatchersOptions {
  /** The logical origin (`http://web.default.svc.cluster.local:8080`): every Pool's origin, so the Host header. */
  readonly origin: string
  /** TLS servername (certificates are issued to names, not pod IPs). */
  readonly servername: string
  readonly connections: number
  readonly pipelining: number
  readonly connectTimeout: number
  readonly headersTimeout: number
  readonly bodyTimeout: number
  readonly keepAliveTimeout: number
  /** Offer h2 in ALPN (https: only); the Pool then multiplexes over one session per pod. */
  readonly allowH2: boolean
  /** Cleartext h2 by prior knowledge (http: only). */
  readonly useH2c: boolean
  readonly tls: ConnectionOptions | undefined
}

/**
 * One undici Pool per endpoint, keyed by endpoint id, created on first use. When discovery
 * removes an endpoint (or moves it to a new address), its Pool is drained: undici's
 * `Pool.close()` takes no new request, lets queued and in-flight ones finish, then closes every
 * socket, so no idle keep-alive connection to a gone pod stays open until its keep-alive timeout.
 *
 * When an endpoint leaves rotation (ejected, failing its checks, stalled), `retire` does the same
 * to its Pool and the next request there opens a fresh one: undici has no "close idle sockets
 * only", but `close()` on a Pool closes its idle connections at once and each busy one when its
 * request ends, which leaves in-flight requests intact. A keep-alive socket to a black-holed pod
 * takes a request and never answers; a fresh connection fails within `timeouts.connect`, before
 * anything is written, so the request can go elsewhere whatever its method.
 */
export class EndpointDispatchers {
  readonly #options: EndpointDispatchersOptions
  readonly #entries = new Map<string, Entry>()
  /** Pools closing after their endpoint left, with their close: destroy() must reach them too. */
  readonly #draining = new Map<Pool, Promise<void>>()
  #closed = false

  constructor(options: EndpointDispatchersOptions) {
    this.#options = options
  }

  /** The Pool for this endpoint (a new one if its address changed since the last call). */
  get(endpoint: Endpoint): Pool {
    const entry = this.#entries.get(endpoint.id)
    if (entry !== undefined && entry.address === endpoint.address && entry.port === endpoint.port) {
      return entry.pool
    }
    if (entry !== undefined) this.#drain(endpoint.id, entry)
    const pool = this.#create(endpoint)
    this.#entries.set(endpoint.id, { address: endpoint.address, port: endpoint.port, pool })
    return pool
  }

  /** Applies a change of the endpoint set: drains the Pools of removed and moved endpoints. */
  apply(change: EndpointChange): void {
    for (const endpoint of change.removed) {
      const entry = this.#entries.get(endpoint.id)
      if (entry !== undefined) this.#drain(endpoint.id, entry)
    }
    for (const { current } of change.updated) {
      const entry = this.#entries.get(current.id)
      if (entry !== undefined && (entry.address !== current.address || entry.port !== current.port)) {
        this.#drain(current.id, entry)
      }
    }
  }

  /**
   * Takes the endpoint's Pool out of use: the next `get` opens a fresh one. `moveQueued` runs
   * first, while the old Pool still holds whatever waits there: it must take back every request
   * undici has not written yet (sending it elsewhere) and return whether it took all of them.
   * Then the old Pool closes: idle connections now, busy ones as their requests end; and once no
   * written request is left in it (and `moveQueued` took everything else) it is destroyed, so
   * that requests it still holds unwritten (taken back, their handlers detached) open no
   * connection. False when the endpoint had no Pool.
   */
  retire(endpointId: string, moveQueued: () => boolean): boolean {
    const entry = this.#entries.get(endpointId)
    if (entry === undefined) return false
    this.#entries.delete(endpointId)
    const movedAll = moveQueued()
    this.#drain(endpointId, entry, movedAll)
    return true
  }

  /**
   * What the endpoint's Pool holds, from undici's `stats`: requests written on its connections
   * and not over (`running`), idle connections (`free`), requests not written yet (`pending`).
   * Zeros without a Pool.
   */
  load(endpointId: string): { readonly running: number; readonly free: number; readonly pending: number } {
    const pool = this.#entries.get(endpointId)?.pool
    if (pool === undefined) return NO_LOAD
    const { running, free, pending } = pool.stats
    return { running, free, pending }
  }

  /** Endpoint ids with a live Pool, and how many Pools are still draining. */
  stats(): { readonly pools: ReadonlyArray<string>; readonly draining: number } {
    return { pools: [...this.#entries.keys()], draining: this.#draining.size }
  }

  /** Closes every Pool gracefully (in-flight requests finish) and waits for the draining ones. */
  async close(): Promise<void> {
    this.#closed = true
    for (const [id, entry] of this.#entries) this.#drain(id, entry)
    while (this.#draining.size > 0) await Promise.all(this.#draining.values())
  }

  /** Destroys every Pool at once, draining ones included: in-flight requests fail with `error`. */
  async destroy(error?: Error): Promise<void> {
    this.#closed = true
    const pools = [...this.#entries.values()].map((e) => e.pool)
    this.#entries.clear()
    pools.push(...this.#draining.keys())
    await Promise.all(pools.map((p) => p.destroy(error ?? null)))
    // Destroyed is done: a draining Pool's close() that waited on requests queued in it never
    // settles once they are destroyed.
    this.#draining.clear()
  }

  get closed(): boolean {
    return this.#closed
  }

  /**
   * Closes the Pool (`Pool.close()`: no new request; idle connections close now, busy ones when
   * their requests end). `destroyWhenUnwritten`: destroy it as soon as no request in it has been
   * written (undici's `stats.running` is 0): whatever it still holds was never sent and has been
   * taken back, and must open no connection. Checked now and whenever one of its connections ends
   * (a request aborted on a black-holed socket destroys it) or fails to open. (A Pool destroyed
   * while its close waits on queued requests never settles that close: the destroy settles it here.)
   */
  #drain(id: string, entry: Entry, destroyWhenUnwritten = false): void {
    if (this.#entries.get(id) === entry) this.#entries.delete(id)
    const pool = entry.pool
    let settle!: () => void
    const done = new Promise<void>((resolve) => {
      settle = resolve
    }).then(() => {
      this.#draining.delete(pool)
    })
    this.#draining.set(pool, done)
    pool.close().then(settle, settle)
    if (!destroyWhenUnwritten) return
    const check = (): void => {
      if (pool.destroyed || pool.stats.running !== 0) return
      pool.off('disconnect', check).off('connectionError', check)
      pool.destroy().then(settle, settle)
    }
    pool.on('disconnect', check).on('connectionError', check)
    check()
  }

  #create(endpoint: Endpoint): Pool {
    const o = this.#options
    // The Pool's origin is the logical one, so undici writes the service name as the Host header
    // and uses it for SNI and the certificate check; only the connector knows the pod's address.
    const connector = buildConnector({
      timeout: o.connectTimeout,
      servername: o.servername,
      // ALPN: the Pool's allowH2 only takes effect if the connector offers h2 (or not) too.
      allowH2: o.allowH2,
      useH2c: o.useH2c,
      ...(o.tls as Record<string, unknown> | undefined),
    } as buildConnector.BuildOptions)
    const address = endpoint.address
    const port = String(endpoint.port)
    const host = formatHostPort(address, port)
    const connect: buildConnector.connector = (options, callback) =>
      connector({ ...options, hostname: address, host, port }, callback)
    return new Pool(o.origin, {
      connections: o.connections,
      pipelining: o.pipelining,
      headersTimeout: o.headersTimeout,
      bodyTimeout: o.bodyTimeout,
      keepAliveTimeout: o.keepAliveTimeout,
      allowH2: o.allowH2,
      // Pool takes useH2c (undici 8 reads it in its constructor); its types omit it.
      ...({ useH2c: o.useH2c } as object),
      connect,
    })
  }
}
