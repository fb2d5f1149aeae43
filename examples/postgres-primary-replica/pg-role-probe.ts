/**
 * The primary probe for PostgreSQL: connect to the endpoint and ask `SELECT pg_is_in_recovery()`.
 * A server in recovery (a streaming standby, or a primary still replaying WAL after a crash)
 * refuses writes, so it is a replica for routing; anything else is the primary.
 * Pass it as `createPool({ primary: { probe: pgRoleProbe(), interval } })`.
 */
import pg from 'pg'
import type { Endpoint } from '../../src/index.js'

/** Connection settings for the probe's own short connection; host and port come from the endpoint. */
export type ProbeConnection = Omit<pg.ClientConfig, 'host' | 'port' | 'connectionString'>

export function pgRoleProbe(
  connection: ProbeConnection = {},
): (endpoint: Endpoint, signal: AbortSignal) => Promise<'primary' | 'replica'> {
  return async (endpoint, signal) => {
    signal.throwIfAborted()
    const client = new pg.Client({ ...connection, host: endpoint.address, port: endpoint.port })
    // A server that goes away mid-probe also emits 'error' on the client; the probe rejects anyway.
    client.on('error', () => {})
    let onAbort: (() => void) | undefined
    // The pool aborts a probe that outlives its timeout: give up at once, and drop the connection.
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal.reason)
      signal.addEventListener('abort', onAbort, { once: true })
    })
    try {
      const query = (async () => {
        await client.connect()
        const result = await client.query<{ recovery: boolean }>('SELECT pg_is_in_recovery() AS recovery')
        const recovery = result.rows[0]?.recovery
        if (typeof recovery !== 'boolean')
          throw new Error(`unexpected answer to pg_is_in_recovery(): ${recovery}`)
        return recovery ? 'replica' : 'primary'
      })()
      // If the abort wins, the query's own rejection (the client is ended below) is expected.
      query.catch(() => {})
      return await Promise.race([query, aborted])
    } finally {
      signal.removeEventListener('abort', onAbort!)
      client.end().catch(() => {})
    }
  }
}
