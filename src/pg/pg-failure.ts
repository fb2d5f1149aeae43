import type { FailureKind } from '../lease.js'

/** What one failed query says about the endpoint it ran on, and about its connection. */
export interface PgFailure {
  /**
   * The endpoint is at fault (unreachable, shutting down, in recovery, out of resources): the lease
   * is released as failed, which feeds outlier detection and, on the primary, re-probes the roles
   * at once. False for the caller's own errors (syntax, constraints, serialization failures),
   * which say nothing about the server and are released as successes.
   */
  readonly endpointFailure: boolean
  readonly kind: FailureKind
  /** The connection cannot be trusted for another query: `pg.Pool` must destroy it, not reuse it. */
  readonly broken: boolean
}

/** SQLSTATE 25006 read_only_sql_transaction: what a server in recovery answers to any write. */
export const READ_ONLY_SQL_TRANSACTION = '25006'

const CALLERS: PgFailure = { endpointFailure: false, kind: 'other', broken: false }
const READ_ONLY: PgFailure = { endpointFailure: true, kind: 'other', broken: false }
const SHUTTING_DOWN: PgFailure = { endpointFailure: true, kind: 'reset', broken: true }
const STATEMENT_TIMEOUT: PgFailure = { endpointFailure: true, kind: 'timeout', broken: false }
const RESOURCES: PgFailure = { endpointFailure: true, kind: 'other', broken: false }
const REFUSED: PgFailure = { endpointFailure: true, kind: 'connect-refused', broken: true }
const CONNECT_TIMEOUT: PgFailure = { endpointFailure: true, kind: 'connect-timeout', broken: true }
const RESET: PgFailure = { endpointFailure: true, kind: 'reset', broken: true }
const READ_TIMEOUT: PgFailure = { endpointFailure: true, kind: 'timeout', broken: true }
const UNKNOWN: PgFailure = { endpointFailure: true, kind: 'other', broken: true }

/** A server's error response (pg's `DatabaseError`): a SQLSTATE `code` and a `severity`. */
function sqlState(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('severity' in error)) return undefined
  const code = (error as { code?: unknown }).code
  return typeof code === 'string' && code.length === 5 ? code : undefined
}

/**
 * Classifies an error from `pg` (PostgreSQL error codes, appendix A of its manual; Node's socket
 * errors; pg's own messages). Pure: no I/O, no pg import, so it is unit-tested exhaustively.
 */
export function classifyPgError(error: unknown): PgFailure {
  const state = sqlState(error)
  if (state !== undefined) {
    if (state === READ_ONLY_SQL_TRANSACTION) return READ_ONLY
    // 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now (starting or stopping).
    if (state.startsWith('57P')) return SHUTTING_DOWN
    // 57014 query_canceled: statement_timeout (or a cancel request), on a connection still usable.
    if (state === '57014') return STATEMENT_TIMEOUT
    // Class 08: connection exceptions.
    if (state.startsWith('08')) return RESET
    // Classes 53 (insufficient resources: too many connections, disk full, out of memory),
    // 58 (system error: I/O) and XX (internal error, data corrupted).
    if (state.startsWith('53') || state.startsWith('58') || state.startsWith('XX')) return RESOURCES
    return CALLERS
  }
  // pg throws TypeError for a query it cannot send (no text, bad values): the caller's mistake.
  if (error instanceof TypeError) return CALLERS
  const code = (error as { code?: unknown } | null)?.code
  if (code === 'ECONNREFUSED') return REFUSED
  if (code === 'ETIMEDOUT' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return CONNECT_TIMEOUT
  if (code === 'ECONNRESET' || code === 'EPIPE') return RESET
  const message = error instanceof Error ? error.message : ''
  // pg-pool's connectionTimeoutMillis: "timeout exceeded when trying to connect".
  if (
    /timeout exceeded when trying to connect|Connection terminated due to connection timeout/i.test(message)
  ) {
    return CONNECT_TIMEOUT
  }
  // pg's query_timeout: the connection still has the query's answer coming, so it is dropped.
  if (/Query read timeout/i.test(message)) return READ_TIMEOUT
  if (/Connection terminated|connection is closed|Client has encountered a connection error/i.test(message)) {
    return RESET
  }
  return UNKNOWN
}
