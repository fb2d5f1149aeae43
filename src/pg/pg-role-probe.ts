import pg from 'pg'
import type { PrimaryProbe } from '../balancing/balancing-options.js'
import type { Endpoint } from '../endpoint.js'

/**
 * The router's built-in role probe: a short connection to the endpoint asking
 * `SELECT pg_is_in_recovery()`. A server in recovery (a streaming standby, or a primary still
 * replaying WAL after a crash) refuses writes, so it is a replica for routing; any other is the
 * primary. Its own connection, not one of the endpoint's pool: a pool busy with queries must not
 * delay the probe past its timeout and make the primary look unknown under load.
 *
 * It keeps the clients it opened so that `close()` can end them and wait until their sockets are
 * closed: the pool only aborts a probe, it does not wait for it.
 */
export class PgRoleProbe {
  private readonly config: (endpoint: Endpoint) => pg.ClientConfig
  private readonly live = new Set<pg.Client>()
  private readonly ending = new Set<Promise<void>>()
  private closed = false

  constructor(config: (endpoint: Endpoint) => pg.ClientConfig) {
    this.config = config
  }

  readonly probe: PrimaryProbe = (endpoint, signal) => this.run(endpoint, signal)

  private async run(endpoint: Endpoint, signal: AbortSignal): Promise<'primary' | 'replica'> {
    signal.throwIfAborted()
    if (this.closed) throw new Error('the router is closed')
    const client = new pg.Client(this.config(endpoint))
    // A server that goes away mid-probe also emits 'error' on the client; the query rejects anyway.
    client.on('error', () => {})
    this.live.add(client)
    // The pool aborts a probe that outlives its timeout: drop the connection at once.
    const onAbort = (): void => this.end(client)
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      await client.connect()
      const result = await client.query<{ recovery: unknown }>('SELECT pg_is_in_recovery() AS recovery')
      const recovery = result.rows[0]?.recovery
      if (typeof recovery !== 'boolean') {
        throw new Error(`unexpected answer to pg_is_in_recovery(): ${String(recovery)}`)
      }
      return recovery ? 'replica' : 'primary'
    } finally {
      signal.removeEventListener('abort', onAbort)
      this.end(client)
    }
  }

  private end(client: pg.Client): void {
    if (!this.live.delete(client)) return
    const ended: Promise<void> = client
      .end()
      .catch(() => {})
      .finally(() => this.ending.delete(ended))
    this.ending.add(ended)
  }

  /** Ends every probe connection and resolves once they are closed. Idempotent. */
  async close(): Promise<void> {
    this.closed = true
    for (const client of [...this.live]) this.end(client)
    while (this.ending.size > 0) await Promise.allSettled([...this.ending])
  }
}
