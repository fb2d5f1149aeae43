import type { FailureKind } from '../lease.js'

/** What one failed Redis command says about the endpoint it was sent to. */
export interface RedisFailure {
  /**
   * The endpoint is at fault (unreachable, a replica answering a write with READONLY, loading its
   * data set...): the lease is released as failed, which feeds outlier detection and, on the
   * primary, re-probes the roles at once. False for the caller's own errors (WRONGTYPE, a syntax
   * error, a script's error), released as successes.
   */
  readonly endpointFailure: boolean
  readonly kind: FailureKind
}

const CALLERS: RedisFailure = { endpointFailure: false, kind: 'other' }
const SERVER: RedisFailure = { endpointFailure: true, kind: 'other' }
const REFUSED: RedisFailure = { endpointFailure: true, kind: 'connect-refused' }
const CONNECT_TIMEOUT: RedisFailure = { endpointFailure: true, kind: 'connect-timeout' }
const TIMEOUT: RedisFailure = { endpointFailure: true, kind: 'timeout' }
const RESET: RedisFailure = { endpointFailure: true, kind: 'reset' }

/**
 * Error replies that are about the server, not the command: READONLY (a write on a replica),
 * LOADING (still reading its data set), MASTERDOWN (a replica whose link is down, with
 * replica-serve-stale-data no), BUSY (a script runs), NOREPLICAS (min-replicas-to-write unmet),
 * OOM (maxmemory reached).
 */
const SERVER_REPLY = /^(READONLY|LOADING|MASTERDOWN|BUSY|NOREPLICAS|OOM)\b/

/** `READONLY You can't write against a read only replica.`: the endpoint is not the primary. */
export function isReadOnlyReply(error: unknown): boolean {
  return error instanceof Error && error.name === 'ReplyError' && error.message.startsWith('READONLY')
}

/** Classifies an error from ioredis. Pure (no ioredis import), so it is unit-tested exhaustively. */
export function classifyRedisError(error: unknown): RedisFailure {
  if (!(error instanceof Error)) return SERVER
  if (error.name === 'ReplyError') return SERVER_REPLY.test(error.message) ? SERVER : CALLERS
  const code = (error as { code?: unknown }).code
  if (code === 'ECONNREFUSED') return REFUSED
  if (code === 'ETIMEDOUT' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return CONNECT_TIMEOUT
  if (code === 'ECONNRESET' || code === 'EPIPE') return RESET
  // ioredis's commandTimeout.
  if (error.message === 'Command timed out') return TIMEOUT
  // "Connection is closed.", "Stream isn't writeable...", MaxRetriesPerRequestError: the command
  // never got an answer because the connection is down.
  if (
    error.name === 'MaxRetriesPerRequestError' ||
    /Connection is closed|Stream isn't writeable|connect ETIMEDOUT/.test(error.message)
  ) {
    return RESET
  }
  return SERVER
}
