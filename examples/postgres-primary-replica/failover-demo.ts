/**
 * The walk-through as code: a PostgreSQL primary (db-0) and streaming standby (db-1) served as the
 * StatefulSet `db` in the lab's DNS; writes through `headless-lb/pg`'s router land on the primary,
 * reads on the standby; then the standby is promoted and the old primary stopped, and writes
 * follow the new primary as soon as the router's probe sees it. Returns what happened, for main.ts
 * to print and for test/integration/pg-router.test.ts to check.
 */
import { setTimeout as delay } from 'node:timers/promises'
import type { Lab } from '../../lab/api.js'
import type { PostgresPair } from '../../lab/postgres.js'
import type { Endpoint } from '../../src/index.js'
import { createPgRouter, type PgRoute, type PgRouter } from '../../src/pg/index.js'

export interface FailoverDemoOptions {
  lab: Lab
  pair: PostgresPair
  /** The pool's probe interval, ms. Default 250: short, so the demo is quick. */
  probeInterval?: number
  /** Deadline for each wait (first primary, replication, the switch to the new primary), ms. Default 20_000. */
  timeout?: number
  /** Writes per phase before and after the failover. Default 10. */
  writes?: number
  log?: (line: string) => void
}

/** One write attempt: where the pool sent it and where the server says it ran. */
export interface WriteRecord {
  readonly seq: number
  readonly phase: 'before' | 'failover' | 'after'
  /** The primary's address when the write was sent ('' when the router knew no primary). */
  readonly picked: string
  /** `inet_server_addr()` of the server that committed the row (ok writes only). */
  readonly server?: string
  readonly ok: boolean
  /** Error name and code for failed writes (`NoPrimaryError HLB_ERR_NO_PRIMARY`, `Error ECONNREFUSED`...). */
  readonly error?: string
}

export interface ReadRecord {
  readonly server: string
  readonly inRecovery: boolean
  /** Rows of demo_writes the server returned. */
  readonly rowsSeen: number
}

export interface FailoverReport {
  readonly service: string
  readonly probeInterval: number
  /** The primary the pool found first (an address). */
  readonly primaryBefore: string
  readonly writesBefore: ReadonlyArray<WriteRecord>
  readonly readsBefore: ReadonlyArray<ReadRecord>
  /** Writes attempted continuously from before the promotion until the pool switched. */
  readonly writesDuringFailover: ReadonlyArray<WriteRecord>
  /** Milliseconds from the old primary's stop (pg_ctl returned) to the pool routing writes to the new one (about 0 if it switched before). */
  readonly switchAfterStopMs: number
  readonly primaryAfter: string
  readonly writesAfter: ReadonlyArray<WriteRecord>
  /** Reads with `readPreference: 'replicaPreferred'` once no replica is left. */
  readonly readsAfter: ReadonlyArray<ReadRecord>
  /** Writes a server refused because it was in recovery: must be 0. */
  readonly readOnlyRejections: number
}

export async function runFailoverDemo(options: FailoverDemoOptions): Promise<FailoverReport> {
  const { lab, pair } = options
  const probeInterval = options.probeInterval ?? 250
  const timeout = options.timeout ?? 20_000
  const count = options.writes ?? 10
  const log = options.log ?? (() => {})

  // The StatefulSet `db`: DNS records only (the lab serves no pods; PostgreSQL does), with the
  // pods' addresses pinned to the two servers: db-0 -> the primary, db-1 -> the standby.
  const service = await lab.addService({
    name: 'db',
    kind: 'headless',
    workload: 'statefulset',
    replicas: 2,
    port: pair.primary.port,
    ports: [{ name: 'postgres', port: pair.primary.port }],
    servePods: false,
    podIps: [pair.primary.host, pair.standby.host],
  })
  log(`service ${service.fqdn}: ${service.pods.map((p) => `${p.name} -> ${p.ip}`).join(', ')}`)

  const db = createPgRouter({
    service: service.fqdn,
    portName: 'postgres',
    dns: { servers: [lab.dnsServer] }, // omit in a cluster: resolv.conf is used
    pg: { user: 'postgres', database: 'postgres', max: 4 },
    primary: { interval: probeInterval },
    readPreference: 'replica',
  })
  let readOnlyRejections = 0
  try {
    const first = await waitForPrimary(db, () => true, timeout)
    log(`the router's probe found the primary: ${first.address}`)

    await db.query(
      'CREATE TABLE IF NOT EXISTS demo_writes (seq int PRIMARY KEY, phase text NOT NULL, written_on inet NOT NULL DEFAULT inet_server_addr())',
    )
    let seq = 0
    const write = async (phase: WriteRecord['phase']): Promise<WriteRecord> => {
      const n = ++seq
      // db.query takes its lease on the primary synchronously, before its first await: this is
      // the endpoint it is sent to.
      const picked = db.pool.primary?.address ?? ''
      try {
        const result = await db.query<{ server: string }>(
          'INSERT INTO demo_writes (seq, phase) VALUES ($1, $2) RETURNING host(written_on) AS server',
          [n, phase],
        )
        return { seq: n, phase, picked, server: result.rows[0]!.server, ok: true }
      } catch (error) {
        // pg's error (a SQLSTATE or errno code), or NoPrimaryError when no primary was known.
        const e = error as { name?: string; code?: string }
        if (e.code === '25006') readOnlyRejections++
        return { seq: n, phase, picked, ok: false, error: `${e.name ?? 'Error'} ${e.code ?? ''}`.trim() }
      }
    }
    const read = async (route: PgRoute = db.replica): Promise<ReadRecord> => {
      const result = await route.query<{ server: string; in_recovery: boolean; rows: number }>(
        'SELECT host(inet_server_addr()) AS server, pg_is_in_recovery() AS in_recovery, (SELECT count(*) FROM demo_writes)::int AS rows',
      )
      const row = result.rows[0]!
      return { server: row.server, inRecovery: row.in_recovery, rowsSeen: row.rows }
    }

    const writesBefore: WriteRecord[] = []
    for (let i = 0; i < count; i++) writesBefore.push(await write('before'))
    log(`writes before the failover: ${summarize(writesBefore)}`)

    // Replicas are asynchronous: wait until the standby has replayed the writes before reading them.
    await pair.waitForReplication({ timeout })
    const readsBefore: ReadRecord[] = []
    for (let i = 0; i < count; i++) readsBefore.push(await read())
    log(`reads before the failover: ${summarizeReads(readsBefore)}`)

    // The failover, with a writer running throughout. Writes between the promotion and the stop
    // may still reach the old primary (it is not in recovery, so it accepts them): a real
    // failover fences the old primary first; here they show what that window costs.
    const writesDuringFailover: WriteRecord[] = []
    let writing = true
    const writer = (async () => {
      while (writing) {
        writesDuringFailover.push(await write('failover'))
        // Pace the writer so it does not hog the CPU the servers need; not a wait for anything.
        await delay(10)
      }
    })()
    log(`promoting the standby (${pair.standby.host}) with pg_ctl promote`)
    await pair.standby.promote()
    log(`stopping the old primary (${pair.primary.host})`)
    await pair.primary.stop()
    const stoppedAt = performance.now()
    let primaryAfter: string
    try {
      // Resolves at once if the probe already saw the promotion before the stop.
      primaryAfter = (await waitForPrimary(db, (e) => e.address === pair.standby.host, timeout)).address
    } finally {
      writing = false
      await writer
    }
    const switchAfterStopMs = performance.now() - stoppedAt
    log(
      `the pool routes writes to ${primaryAfter} ${switchAfterStopMs.toFixed(0)} ms after the stop (probe interval ${probeInterval} ms); during the failover: ${summarize(writesDuringFailover)}`,
    )

    const writesAfter: WriteRecord[] = []
    for (let i = 0; i < count; i++) writesAfter.push(await write('after'))
    log(`writes after the failover: ${summarize(writesAfter)}`)
    const readsAfter: ReadRecord[] = []
    for (let i = 0; i < count; i++) readsAfter.push(await read(db.route('replicaPreferred')))
    log(`reads after the failover (replicaPreferred, no replica left): ${summarizeReads(readsAfter)}`)
    log(`writes refused by a server in recovery: ${readOnlyRejections}`)

    return {
      service: service.fqdn,
      probeInterval,
      primaryBefore: first.address,
      writesBefore,
      readsBefore,
      writesDuringFailover,
      switchAfterStopMs,
      primaryAfter,
      writesAfter,
      readsAfter,
      readOnlyRejections,
    }
  } finally {
    await db.close()
  }
}

/**
 * Resolves with the primary once the router routes writes to one that `accept` accepts (checked
 * now and on every `primary` event); rejects after `timeout` ms.
 */
function waitForPrimary(
  db: PgRouter,
  accept: (endpoint: Endpoint) => boolean,
  timeout: number,
): Promise<Endpoint> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const primary = db.pool.primary
      if (primary && accept(primary)) {
        done()
        resolve(primary)
      }
    }
    const timer = setTimeout(() => {
      done()
      reject(
        new Error(`no matching primary after ${timeout} ms (now: ${db.pool.primary?.address ?? 'none'})`),
      )
    }, timeout)
    const done = (): void => {
      clearTimeout(timer)
      db.off('primary', check)
    }
    db.on('primary', check)
    check()
  })
}

function summarize(writes: ReadonlyArray<WriteRecord>): string {
  const counts = new Map<string, number>()
  for (const w of writes) {
    const key = w.ok ? `ok on ${w.server}` : `failed (${w.error})`
    counts.set(key, (counts.get(key) ?? 0) + 1)
  }
  return [...counts].map(([key, n]) => `${n} ${key}`).join(', ') || 'none'
}

function summarizeReads(reads: ReadonlyArray<ReadRecord>): string {
  const counts = new Map<string, number>()
  for (const r of reads) {
    const key = `on ${r.server} (${r.inRecovery ? 'in recovery' : 'primary'}, ${r.rowsSeen} rows)`
    counts.set(key, (counts.get(key) ?? 0) + 1)
  }
  return [...counts].map(([key, n]) => `${n} ${key}`).join(', ')
}
