/**
 * Routes PostgreSQL queries over a StatefulSet's pods: writes to the primary, reads to the
 * replicas, with the primary found by probing `pg_is_in_recovery()` (pg-role-probe.ts). This is
 * what an application writes by hand around `pool.acquire()` / `lease.release()`: headless-lb picks
 * the endpoint, `pg` talks to it (one small `pg.Pool` per endpoint), and every outcome goes back to
 * the pool so failures feed outlier detection and trigger an early re-probe.
 */
import pg from 'pg'
import type { Endpoint, FailureKind, PickOptions } from '../../src/index.js'
import { createPool } from '../../src/index.js'
import { type ProbeConnection, pgRoleProbe } from './pg-role-probe.js'

export interface PostgresRouterOptions {
  /** The headless service, e.g. `db.default.svc.cluster.local`. */
  service: string
  /** Default 5432. */
  port?: number
  /** DNS servers (`host:port`); default the system's. */
  dnsServers?: ReadonlyArray<string>
  /** Milliseconds between role probes. Default 5_000. A failover is seen within one interval. */
  probeInterval?: number
  /**
   * Milliseconds before one probe counts as failed (role unknown: no writes go there until a
   * probe answers again). Default 2_000: keep it well above a connect + query on a busy server,
   * even with a short interval, or one slow probe makes the primary briefly unknown.
   */
  probeTimeout?: number
  /** User, database, password... for both the probe and the queries. Default user and database `postgres`. */
  connection?: ProbeConnection
}

/** A query's rows and the endpoint that served it. */
export interface RoutedResult<R extends pg.QueryResultRow> {
  readonly endpoint: Endpoint
  readonly rows: R[]
}

// SQLSTATE 25006 read_only_sql_transaction: what a server in recovery answers to any write.
const READ_ONLY_SQL_TRANSACTION = '25006'

/** Classifies a failed query for the pool: what the error says about the endpoint. */
function failureKind(error: unknown): FailureKind {
  const code = (error as { code?: unknown } | null)?.code
  if (code === 'ECONNREFUSED') return 'connect-refused'
  if (code === 'ETIMEDOUT') return 'connect-timeout'
  // 57P01..57P03: the server is shutting down or not accepting connections yet.
  if (code === 'ECONNRESET' || code === 'EPIPE' || (typeof code === 'string' && code.startsWith('57P'))) {
    return 'reset'
  }
  if (error instanceof Error && /timeout/i.test(error.message)) return 'connect-timeout'
  if (error instanceof Error && /Connection terminated/i.test(error.message)) return 'reset'
  return 'other'
}

/**
 * True for errors about the endpoint (unreachable, shutting down, or a write sent to a server
 * in recovery); false for the caller's own SQL errors (syntax, constraints), which say nothing
 * about the endpoint's health.
 */
function isEndpointFailure(error: unknown): boolean {
  if (!(error instanceof pg.DatabaseError)) return true
  const code = error.code ?? ''
  return (
    code === READ_ONLY_SQL_TRANSACTION ||
    code.startsWith('57') ||
    code.startsWith('08') ||
    code.startsWith('53')
  )
}

/** A query failed on the endpoint the pool picked; `cause` is the `pg` error, `code` its code (SQLSTATE or errno). */
export class RoutedQueryError extends Error {
  readonly endpoint: Endpoint
  readonly code: string | undefined

  constructor(endpoint: Endpoint, cause: unknown) {
    const message = cause instanceof Error ? cause.message : String(cause)
    super(`query on ${endpoint.address}:${endpoint.port} failed: ${message}`, { cause })
    this.name = 'RoutedQueryError'
    this.endpoint = endpoint
    const code = (cause as { code?: unknown } | null)?.code
    this.code = typeof code === 'string' ? code : undefined
  }
}

export class PostgresRouter {
  readonly pool: ReturnType<typeof createPool>
  /** Writes a server refused because it was in recovery. The routing is right when this stays 0. */
  readOnlyRejections = 0
  readonly #connection: pg.ClientConfig
  readonly #connections = new Map<string, pg.Pool>()

  constructor(options: PostgresRouterOptions) {
    this.#connection = { user: 'postgres', database: 'postgres', ...options.connection }
    this.pool = createPool({
      service: options.service,
      port: options.port ?? 5432,
      ...(options.dnsServers ? { dns: { servers: options.dnsServers } } : {}),
      primary: {
        probe: pgRoleProbe(this.#connection),
        ...(options.probeInterval === undefined ? {} : { interval: options.probeInterval }),
        timeout: options.probeTimeout ?? 2_000,
      },
    })
  }

  /**
   * Runs a write on the primary. Throws NoPrimaryError (from headless-lb) when none is known, and
   * RoutedQueryError when the query failed on the endpoint picked.
   */
  write<R extends pg.QueryResultRow = pg.QueryResultRow>(
    sql: string,
    values?: unknown[],
  ): Promise<RoutedResult<R>> {
    return this.#run<R>({ role: 'primary' }, sql, values)
  }

  /** Runs a read on a replica (or as `pick` says: `{ readPreference: 'replicaPreferred' }`...). */
  read<R extends pg.QueryResultRow = pg.QueryResultRow>(
    sql: string,
    values?: unknown[],
    pick: PickOptions = { role: 'replica' },
  ): Promise<RoutedResult<R>> {
    return this.#run<R>(pick, sql, values)
  }

  /** The primary the pool routes writes to now, or undefined when none is known. */
  currentPrimary(): Endpoint | undefined {
    try {
      return this.pool.pick({ role: 'primary' })
    } catch {
      return undefined
    }
  }

  /**
   * Resolves with the primary once the pool routes writes to one that `accept` accepts (checked
   * now and on every `primary` event); rejects after `timeout` ms.
   */
  waitForPrimary(accept: (endpoint: Endpoint) => boolean, timeout: number): Promise<Endpoint> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const primary = this.currentPrimary()
        if (primary && accept(primary)) {
          done()
          resolve(primary)
        }
      }
      const timer = setTimeout(() => {
        done()
        const now = this.currentPrimary()
        reject(new Error(`no matching primary after ${timeout} ms (now: ${now ? now.address : 'none'})`))
      }, timeout)
      timer.unref()
      const done = (): void => {
        clearTimeout(timer)
        this.pool.off('primary', check)
      }
      this.pool.on('primary', check)
      check()
    })
  }

  async #run<R extends pg.QueryResultRow>(
    pick: PickOptions,
    sql: string,
    values: unknown[] | undefined,
  ): Promise<RoutedResult<R>> {
    const lease = this.pool.acquire(pick)
    const started = performance.now()
    try {
      const result = await this.#connectionsTo(lease.endpoint).query<R>(sql, values)
      lease.release({ ok: true, latency: performance.now() - started })
      return { endpoint: lease.endpoint, rows: result.rows }
    } catch (error) {
      const latency = performance.now() - started
      if ((error as { code?: unknown }).code === READ_ONLY_SQL_TRANSACTION) this.readOnlyRejections++
      if (isEndpointFailure(error)) {
        lease.release({ ok: false, error, kind: failureKind(error), latency })
      } else {
        lease.release({ ok: true, latency })
      }
      throw new RoutedQueryError(lease.endpoint, error)
    }
  }

  #connectionsTo(endpoint: Endpoint): pg.Pool {
    const key = `${endpoint.address}:${endpoint.port}`
    let connections = this.#connections.get(key)
    if (!connections) {
      connections = new pg.Pool({
        ...this.#connection,
        host: endpoint.address,
        port: endpoint.port,
        max: 4,
        connectionTimeoutMillis: 5_000,
        idleTimeoutMillis: 10_000,
      })
      // An idle connection to a server that shuts down errors here; the pool drops it, and the
      // next query on that endpoint fails (and is reported to headless-lb) if it is really gone.
      connections.on('error', () => {})
      this.#connections.set(key, connections)
    }
    return connections
  }

  async close(): Promise<void> {
    const connections = [...this.#connections.values()]
    this.#connections.clear()
    await Promise.allSettled([this.pool.close(), ...connections.map((c) => c.end())])
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}
