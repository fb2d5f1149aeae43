import { performance } from 'node:perf_hooks'
import type { ConnectionOptions } from 'node:tls'
import { debuglog } from 'node:util'
import pg from 'pg'
import { EndpointClients } from '../adapters/endpoint-clients.js'
import { ProbeTracker } from '../adapters/probe-tracker.js'
import type { RouterPrimaryOptions } from '../adapters/router-options.js'
import { clientOptions, readPreferenceOption, routerPoolOptions } from '../adapters/router-options.js'
import { waitForRoles } from '../adapters/wait-for-roles.js'
import type { ReadyOptions } from '../discovery/endpoint-source.js'
import type { Endpoint } from '../endpoint.js'
import { ClosedError } from '../errors.js'
import type { Lease, PickOptions, ReadPreference } from '../lease.js'
import { requireObject } from '../options.js'
import type { Pool, PoolEvents, PoolInternals, PoolOptions, PoolStats } from '../pool.js'
import { createPool } from '../pool.js'
import { classifyPgError } from './pg-failure.js'
import { PgRoleProbe } from './pg-role-probe.js'

const debug = debuglog('headless-lb')

/** `pg.PoolConfig` without where to connect: the router connects to each pod's address. */
export type PgClientConfig = Omit<pg.PoolConfig, 'host' | 'port' | 'connectionString' | 'stream'>

/** Everything `createPool` takes (`service`, `port`/`portName`, `dns`, `balancer`...), and: */
export type PgRouterOptions = Omit<PoolOptions, 'primary'> & {
  /** The endpoints' port when no `portName` is given. Default 5432. */
  port?: number
  /** `pg.PoolConfig` for the `pg.Pool` of each endpoint (user, database, password, max, ssl...), without host or port. */
  pg?: PgClientConfig
  /** Where `db.replica` sends its queries. Default `replicaPreferred`. */
  readPreference?: ReadPreference
  /**
   * How roles are found. Default: the built-in probe, `SELECT pg_is_in_recovery()` on its own
   * connection to each endpoint every `interval` ms (default 5_000; `timeout` 2_000). Give
   * `{ interval, timeout }` to tune it, or any `primary` option of `createPool` (`{ probe }`,
   * `{ ordinal }`, `{ name }`) to replace it.
   */
  primary?: RouterPrimaryOptions
}

/** Options of `connect()`: where the pinned session goes. */
export interface PgConnectOptions {
  /** Default `primary` for `db.connect()`, the router's `readPreference` for `db.replica.connect()`. */
  readonly route?: ReadPreference
}

/** The connections of one endpoint's `pg.Pool`. */
export interface PgConnectionStats {
  readonly endpoint: Endpoint
  readonly total: number
  readonly idle: number
  /** Queries waiting for a connection of this endpoint's pool. */
  readonly waiting: number
}

export interface PgRouterStats extends PoolStats {
  readonly connections: ReadonlyArray<PgConnectionStats>
  /** Errors `pg` reported on idle connections (a server that went away between queries). */
  readonly idleConnectionErrors: number
}

const ROUTER_KEYS = ['pg', 'readPreference', 'primary'] as const
const FORBIDDEN_PG_KEYS = ['host', 'port', 'connectionString', 'stream'] as const
const PICK_PRIMARY: PickOptions = Object.freeze({ role: 'primary' })

/**
 * A `pg` router for a StatefulSet: one `pg.Pool` per pod, writes to the primary, reads per
 * read preference. Validates every option now; connects lazily.
 */
export function createPgRouter(options: PgRouterOptions, internals?: PoolInternals): PgRouter {
  const record = requireObject('options', options)
  const config = clientOptions('pg', record.pg, FORBIDDEN_PG_KEYS) as PgClientConfig
  const readPreference = readPreferenceOption(record.readPreference)
  // Unused (and so never connecting) when the caller replaces it; closing it is then a no-op.
  const probe = new PgRoleProbe((endpoint) => endpointConfig(config, endpoint))
  const tracker = new ProbeTracker()
  const pool = createPool(routerPoolOptions(record, ROUTER_KEYS, 5432, probe.probe, tracker), internals)
  return new PgRouter(pool, config, readPreference, probe, tracker)
}

/** The config of one endpoint's pool: the pod's address, and its stable name as the TLS server name. */
function endpointConfig(config: PgClientConfig, endpoint: Endpoint): pg.PoolConfig {
  const ssl = config.ssl
  return {
    ...config,
    host: endpoint.address,
    port: endpoint.port,
    ...(ssl === undefined || ssl === false
      ? {}
      : {
          // pg sets no servername for an IP host; the certificate names the pod (or the service).
          ssl: {
            ...(endpoint.hostname === undefined ? {} : { servername: endpoint.hostname }),
            ...(ssl === true ? {} : (ssl as ConnectionOptions)),
          },
        }),
  }
}

/** One way to pick an endpoint: `db.primary`, `db.replica`, or `db.route(readPreference)`. */
export class PgRoute {
  readonly readPreference: ReadPreference
  readonly #core: PgCore
  readonly #pick: PickOptions

  /** @internal Use `router.route()`, `router.primary` or `router.replica`. */
  constructor(core: PgCore, readPreference: ReadPreference) {
    this.#core = core
    this.readPreference = readPreference
    this.#pick = readPreference === 'primary' ? PICK_PRIMARY : Object.freeze({ readPreference })
  }

  /**
   * Runs one query on an endpoint picked for this route, under a lease released with its outcome
   * and latency. Never retried: an error is the caller's to handle (it is `pg`'s error, with its
   * SQLSTATE `code`), or NoPrimaryError / NoEndpointsError when no endpoint may take it.
   */
  query<R extends pg.QueryResultRow = pg.QueryResultRow, I = unknown[]>(
    text: string | pg.QueryConfig<I>,
    values?: pg.QueryConfigValues<I>,
  ): Promise<pg.QueryResult<R>> {
    return this.#core.query<R>(this.#pick, text as string | pg.QueryConfig<unknown[]>, values)
  }

  /**
   * A `pg` client pinned to one endpoint picked for this route, for a transaction or a session.
   * Its lease is held until `client.release()`; pass the error to `release(error)` when the
   * session failed, so that the pool hears of it and `pg` drops the connection.
   */
  connect(): Promise<pg.PoolClient> {
    return this.#core.connect(this.#pick)
  }
}

/** `client.query(textOrConfig, values, callback)`: pg takes values beside a config too; its types do not say so. */
interface CallbackClient<R extends pg.QueryResultRow> {
  query(
    text: string | pg.QueryConfig<unknown[]>,
    values: unknown,
    callback: (error: Error | undefined | null, result: pg.QueryResult<R>) => void,
  ): void
}

/** The router's state, shared by its routes. */
class PgCore {
  readonly pool: Pool
  readonly clients: EndpointClients<pg.Pool>
  idleConnectionErrors = 0
  closed = false

  constructor(pool: Pool, config: PgClientConfig) {
    this.pool = pool
    this.clients = new EndpointClients<pg.Pool>(
      (endpoint) => {
        const connections = new pg.Pool(endpointConfig(config, endpoint))
        // An idle connection to a server that goes away errors here; pg drops it, and the next
        // query on that endpoint fails (and is reported to the pool) if the server is really gone.
        connections.on('error', (error) => {
          this.idleConnectionErrors++
          debug('idle connection to %s failed: %s', endpoint.id, error.message)
        })
        return connections
      },
      // pg's end() closes idle connections now and the others as they are released: a drain.
      (connections) => connections.end(),
    )
    pool.on('change', this.clients.onChange)
    for (const endpoint of pool.endpoints) this.clients.get(endpoint)
  }

  /**
   * Callbacks rather than awaits inside: one promise per query, as `pg.Pool.query` itself does,
   * so routing costs little more CPU than the pool it wraps (bench/pg-replica-throughput.ts).
   */
  query<R extends pg.QueryResultRow>(
    pick: PickOptions,
    text: string | pg.QueryConfig<unknown[]>,
    values: unknown,
  ): Promise<pg.QueryResult<R>> {
    if (this.closed) return Promise.reject(new ClosedError('pg router', this.pool.service))
    let lease: Lease
    try {
      lease = this.pool.acquire(pick)
    } catch (error) {
      return Promise.reject(error)
    }
    const started = performance.now()
    const connections = this.clients.get(lease.endpoint)
    return new Promise((resolve, reject) => {
      connections.connect((connectError, client, done) => {
        if (connectError !== undefined && connectError !== null) {
          // Not sent: the connection failed. Still not retried here, so that a caller's deadline holds.
          const kind = classifyPgError(connectError).kind
          lease.release({ ok: false, error: connectError, kind, latency: performance.now() - started })
          reject(connectError)
          return
        }
        ;(client as unknown as CallbackClient<R>).query(text, values, (error, result) => {
          const latency = performance.now() - started
          if (error === undefined || error === null) {
            done()
            lease.release({ ok: true, latency })
            resolve(result)
            return
          }
          const failure = classifyPgError(error)
          done(failure.broken ? error : undefined)
          lease.release(
            failure.endpointFailure
              ? { ok: false, error, kind: failure.kind, latency }
              : { ok: true, latency },
          )
          reject(error)
        })
      })
    })
  }

  async connect(pick: PickOptions): Promise<pg.PoolClient> {
    if (this.closed) throw new ClosedError('pg router', this.pool.service)
    const lease = this.pool.acquire(pick)
    const started = performance.now()
    let client: pg.PoolClient
    try {
      client = await this.clients.get(lease.endpoint).connect()
    } catch (error) {
      lease.release({
        ok: false,
        error,
        kind: classifyPgError(error).kind,
        latency: performance.now() - started,
      })
      throw error
    }
    // A session's length is the caller's, not the server's: its latency sample is the time it
    // took to get the connection, and its in-flight slot is held until release.
    const latency = performance.now() - started
    const release = client.release
    let released = false
    client.release = (error?: Error | boolean): void => {
      if (!released) {
        released = true
        const failure = error instanceof Error ? classifyPgError(error) : undefined
        lease.release(
          failure?.endpointFailure
            ? { ok: false, error, kind: failure.kind, latency }
            : { ok: true, latency },
        )
      }
      release.call(client, error)
    }
    return client
  }
}

/** Created by `createPgRouter`. */
export class PgRouter {
  /** The headless-lb pool: endpoints, health, roles. */
  readonly pool: Pool
  /** Always the primary: `db.query` and `db.connect` go here. */
  readonly primary: PgRoute
  /** Reads per the `readPreference` option. */
  readonly replica: PgRoute
  readonly #core: PgCore
  readonly #probe: PgRoleProbe
  readonly #tracker: ProbeTracker
  readonly #routes = new Map<ReadPreference, PgRoute>()
  #closing: Promise<void> | undefined

  /** @internal Use `createPgRouter`. */
  constructor(
    pool: Pool,
    config: PgClientConfig,
    readPreference: ReadPreference,
    probe: PgRoleProbe,
    tracker: ProbeTracker,
  ) {
    this.pool = pool
    this.#core = new PgCore(pool, config)
    this.#probe = probe
    this.#tracker = tracker
    this.primary = this.route('primary')
    this.replica = this.route(readPreference)
  }

  /** A route with its own read preference (`db.route('nearest').query(...)`). */
  route(readPreference: ReadPreference): PgRoute {
    let route = this.#routes.get(readPreference)
    if (route === undefined) {
      route = new PgRoute(this.#core, readPreferenceOption(readPreference))
      this.#routes.set(readPreference, route)
    }
    return route
  }

  /**
   * Resolves once discovery has answered, the primary is known and every endpoint has been probed
   * once; rejects with ResolutionError or NoPrimaryError after `timeout` (default 10 s).
   */
  ready(options?: ReadyOptions): Promise<void> {
    if (this.#closing) return Promise.reject(new ClosedError('pg router', this.pool.service))
    return waitForRoles(this.pool, this.#tracker, options)
  }

  /** A query on the primary: always safe for writes. See PgRoute.query. */
  query<R extends pg.QueryResultRow = pg.QueryResultRow, I = unknown[]>(
    text: string | pg.QueryConfig<I>,
    values?: pg.QueryConfigValues<I>,
  ): Promise<pg.QueryResult<R>> {
    return this.primary.query<R, I>(text, values)
  }

  /** A client pinned to the primary (or to `route`) for a transaction; `release()` it. */
  connect(options?: PgConnectOptions): Promise<pg.PoolClient> {
    const route = options?.route
    return (route === undefined ? this.primary : this.route(route)).connect()
  }

  /** The pool's stats, and each endpoint's connections. */
  stats(): PgRouterStats {
    return {
      ...this.pool.stats(),
      connections: this.#core.clients.entries().map(({ endpoint, client }) => ({
        endpoint,
        total: client.totalCount,
        idle: client.idleCount,
        waiting: client.waitingCount,
      })),
      idleConnectionErrors: this.#core.idleConnectionErrors,
    }
  }

  /** The pool's events: `change`, `primary`, `health`, `eject`, `panic`, `error`. */
  on<K extends keyof PoolEvents>(event: K, listener: (...args: PoolEvents[K]) => void): this {
    this.pool.on(event, listener as never)
    return this
  }

  once<K extends keyof PoolEvents>(event: K, listener: (...args: PoolEvents[K]) => void): this {
    this.pool.once(event, listener as never)
    return this
  }

  off<K extends keyof PoolEvents>(event: K, listener: (...args: PoolEvents[K]) => void): this {
    this.pool.off(event, listener as never)
    return this
  }

  /**
   * Stops discovery and probes, then ends every endpoint's pool once its checked-out clients are
   * released (queries in flight finish), and resolves when every socket is closed. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#core.closed = true
      this.pool.off('change', this.#core.clients.onChange)
      await this.pool.close()
      await Promise.all([this.#probe.close(), this.#core.clients.close()])
    })()
    return this.#closing
  }

  /** `close()`, under the name `pg.Pool` uses. */
  end(): Promise<void> {
    return this.close()
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }
}
