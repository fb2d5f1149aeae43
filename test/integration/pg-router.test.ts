/**
 * headless-lb/pg against real servers: a PostgreSQL 15 primary and streaming standby published in
 * the lab's DNS as StatefulSets with the SRV port name `postgres`. One pair for the whole file
 * (PostgreSQL's start-up is the slow part); the failover walk-through of
 * examples/postgres-primary-replica runs last, since it promotes the standby and stops the primary.
 */
import { Resolver } from 'node:dns/promises'
import { once } from 'node:events'
import { createServer, type Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type FailoverReport,
  runFailoverDemo,
} from '../../examples/postgres-primary-replica/failover-demo.js'
import type { Lab, LabService } from '../../lab/api.js'
import { startLab } from '../../lab/index.js'
import { type PostgresPair, postgresSupport, startPostgresPair } from '../../lab/postgres.js'
import { createPgRouter, type PgRouter, type PgRouterOptions } from '../../src/pg/index.js'
import { until } from '../support/until.js'
import { nextPoolEvent } from './pool-support.js'

const support = postgresSupport()
if (!support.supported) console.log(`skipping the pg router tests: ${support.reason}`)

const PRIMARY = '127.0.20.1'
const STANDBY = '127.0.20.2'
const PROBE_INTERVAL = 250

describe.skipIf(!support.supported)('headless-lb/pg over a PostgreSQL primary and streaming standby', () => {
  let lab: Lab | undefined
  let pair: PostgresPair | undefined
  let service: LabService
  let routers = 0

  beforeAll(async () => {
    const [startedLab, startedPair] = await Promise.allSettled([
      startLab(),
      startPostgresPair({ primaryAddress: PRIMARY, standbyAddress: STANDBY }),
    ])
    if (startedLab.status === 'fulfilled') lab = startedLab.value
    if (startedPair.status === 'fulfilled') pair = startedPair.value
    if (startedLab.status === 'rejected') throw startedLab.reason
    if (startedPair.status === 'rejected') throw startedPair.reason
    service = await lab!.addService({
      name: 'pg',
      kind: 'headless',
      workload: 'statefulset',
      port: 5432,
      ports: [{ name: 'postgres', port: 5432 }],
      servePods: false,
      podIps: [PRIMARY, STANDBY],
    })
    await pair!.primary.query('CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL)')
  }, 60_000)

  afterAll(async () => {
    // Both, always: a failed start must not leave servers or temp dirs behind.
    await Promise.allSettled([pair?.close(), lab?.close()])
  })

  /** A router with its own application_name, so pg_stat_activity shows its connections. */
  function router(extra: Partial<PgRouterOptions> = {}): { db: PgRouter; name: string } {
    const name = `hlb-test-${++routers}`
    const db = createPgRouter({
      service: service.fqdn,
      portName: 'postgres',
      dns: { servers: [lab!.dnsServer] },
      minRefresh: 100,
      maxRefresh: 500,
      primary: { interval: PROBE_INTERVAL },
      pg: { user: 'postgres', database: 'postgres', max: 4, application_name: name },
      ...extra,
    })
    return { db, name }
  }

  async function connectionsNamed(host: string, name: string): Promise<number> {
    const server = host === PRIMARY ? pair!.primary : pair!.standby
    const result = await server.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1',
      [name],
    )
    return result.rows[0]!.n
  }

  it('finds the primary with pg_is_in_recovery(), writes land there and replica reads on the standby', async () => {
    const { db } = router()
    try {
      await db.ready()
      expect(db.pool.primary?.address).toBe(PRIMARY)
      for (let i = 0; i < 5; i++) {
        const written = await db.query<{ server: string }>(
          'INSERT INTO notes (body) VALUES ($1) RETURNING host(inet_server_addr()) AS server',
          [`note ${i}`],
        )
        expect(written.rows[0]!.server).toBe(PRIMARY)
      }
      await pair!.waitForReplication()
      for (let i = 0; i < 5; i++) {
        const read = await db.replica.query<{ server: string; recovery: boolean; n: number }>(
          'SELECT host(inet_server_addr()) AS server, pg_is_in_recovery() AS recovery, (SELECT count(*)::int FROM notes) AS n',
        )
        expect(read.rows[0]).toEqual({ server: STANDBY, recovery: true, n: 5 })
      }
    } finally {
      await db.close()
    }
  })

  it('keeps a transaction through connect() on one server, and replica.connect() on the standby', async () => {
    const { db } = router()
    try {
      await db.ready()
      const client = await db.connect()
      const seen = new Set<string>()
      try {
        await client.query('BEGIN')
        for (let i = 0; i < 3; i++) {
          const row = (
            await client.query<{ server: string; pid: number }>(
              "INSERT INTO notes (body) VALUES ('tx') RETURNING host(inet_server_addr()) AS server, pg_backend_pid() AS pid",
            )
          ).rows[0]!
          seen.add(`${row.server}/${row.pid}`)
        }
        await client.query('COMMIT')
      } finally {
        client.release()
      }
      expect([...seen]).toHaveLength(1)
      expect([...seen][0]).toMatch(new RegExp(`^${PRIMARY.replaceAll('.', '\\.')}/`))
      // The session held its lease until release().
      expect(db.stats().endpoints.every((e) => e.inFlight === 0)).toBe(true)

      for (const session of [await db.replica.connect(), await db.connect({ route: 'replica' })]) {
        try {
          const row = (
            await session.query<{ server: string; recovery: boolean }>(
              'SELECT host(inet_server_addr()) AS server, pg_is_in_recovery() AS recovery',
            )
          ).rows[0]
          expect(row).toEqual({ server: STANDBY, recovery: true })
        } finally {
          session.release()
        }
      }
    } finally {
      await db.close()
    }
  })

  it("counts every query on its endpoint; a caller's SQL error is a success, a write refused by the standby a failure", async () => {
    const { db } = router({ readPreference: 'replica' })
    try {
      await db.ready()
      await db.query('SELECT 1')
      await expect(db.query('SELEC 1')).rejects.toMatchObject({ code: '42601' })
      await db.replica.query('SELECT 1')
      let stats = db.stats()
      const on = (address: string) => stats.endpoints.find((e) => e.endpoint.address === address)!
      expect(on(PRIMARY)).toMatchObject({ role: 'primary', requests: 2, failures: 0, inFlight: 0 })
      expect(on(STANDBY)).toMatchObject({ role: 'replica', requests: 1, failures: 0, inFlight: 0 })
      expect(on(PRIMARY).ewma).toBeGreaterThan(0)
      // Only by asking for a replica explicitly can a write reach one: it fails with 25006.
      await expect(db.replica.query("INSERT INTO notes (body) VALUES ('x')")).rejects.toMatchObject({
        code: '25006',
      })
      stats = db.stats()
      expect(on(STANDBY)).toMatchObject({ requests: 2, failures: 1 })
      expect(stats.connections.map((c) => c.endpoint.address).sort()).toEqual([PRIMARY, STANDBY])
    } finally {
      await db.close()
    }
  })

  it("ends a removed pod's pg.Pool, and makes a new one when the pod is back", async () => {
    const { db, name } = router({ readPreference: 'replica' })
    try {
      await db.ready()
      await db.replica.query('SELECT 1')
      expect(await connectionsNamed(STANDBY, name)).toBe(1)
      const removed = nextPoolEvent(db.pool, 'change', (c: { removed: unknown[] }) => c.removed.length > 0)
      await service.scale(1)
      await removed
      expect(db.stats().connections.map((c) => c.endpoint.address)).toEqual([PRIMARY])
      await until(
        `0 connection(s) named ${name} on ${STANDBY}`,
        async () => (await connectionsNamed(STANDBY, name)) === 0,
        5_000,
      )
      const added = nextPoolEvent(db.pool, 'change', (c: { added: unknown[] }) => c.added.length > 0)
      await service.scale(2)
      await added
      // The returning pod is probed at once; until it answers, its role is unknown.
      await until(
        'the returning pod probed as a replica',
        () => db.stats().endpoints.some((e) => e.role === 'replica'),
        5_000,
      )
      await db.replica.query('SELECT 1')
      expect(await connectionsNamed(STANDBY, name)).toBe(1)
    } finally {
      await db.close()
    }
  })

  it('close() ends every connection, probes included, and is idempotent', async () => {
    const { db, name } = router()
    await db.ready()
    await Promise.all([db.query('SELECT 1'), db.replica.query('SELECT 1'), db.query('SELECT 1')])
    expect(await connectionsNamed(PRIMARY, name)).toBeGreaterThan(0)
    await Promise.all([db.close(), db.end()])
    await db[Symbol.asyncDispose]()
    expect(db.stats().connections).toEqual([])
    // The server notices a closed socket a moment after the client closed it.
    await until(
      `0 connection(s) named ${name} on ${PRIMARY}`,
      async () => (await connectionsNamed(PRIMARY, name)) === 0,
      5_000,
    )
    await until(
      `0 connection(s) named ${name} on ${STANDBY}`,
      async () => (await connectionsNamed(STANDBY, name)) === 0,
      5_000,
    )
    await expect(db.query('SELECT 1')).rejects.toMatchObject({ code: 'HLB_ERR_CLOSED' })
    await expect(db.ready()).rejects.toMatchObject({ code: 'HLB_ERR_CLOSED' })
  })

  it("leaves a pod's role unknown when its probe fails, and closes the probe's connection on timeout", async () => {
    const sockets: Socket[] = []
    // Reads (so it sees the client's FIN) but never answers the startup message.
    const silent = createServer((socket) => {
      sockets.push(socket)
      socket.resume()
    })
    silent.listen(5432, '127.0.20.3')
    await once(silent, 'listening')
    const db = createPgRouter({
      service: 'silent',
      addresses: ['127.0.20.3:5432', '127.0.20.4:5432'], // one never answers, one refuses
      pg: { user: 'postgres' },
      primary: { interval: 5_000, timeout: 200 },
    })
    try {
      while (sockets.length === 0) await once(silent, 'connection')
      const closed = once(sockets[0]!, 'close')
      await expect(db.ready({ timeout: 500 })).rejects.toMatchObject({ code: 'HLB_ERR_NO_PRIMARY' })
      await closed
      expect(db.stats().endpoints.map((e) => e.role)).toEqual(['unknown', 'unknown'])
      await expect(db.query('SELECT 1')).rejects.toMatchObject({ code: 'HLB_ERR_NO_PRIMARY' })
    } finally {
      await db.close()
      silent.close()
    }
  })

  describe('the failover walk-through (examples/postgres-primary-replica)', () => {
    let report: FailoverReport

    beforeAll(async () => {
      report = await runFailoverDemo({
        lab: lab!,
        pair: pair!,
        probeInterval: PROBE_INTERVAL,
        log: (line) => console.log(`[postgres demo] ${line}`),
      })
    }, 120_000)

    it("publishes the StatefulSet's pods at the servers' addresses in the lab's DNS", async () => {
      const dns = new Resolver({ timeout: 1_000, tries: 2 })
      dns.setServers([lab!.dnsServer])
      expect(await dns.resolve4(`db-0.${report.service}`)).toEqual([PRIMARY])
      expect(await dns.resolve4(`db-1.${report.service}`)).toEqual([STANDBY])
    })

    it('finds db-0 as the primary, sends every write there and every read to the standby', () => {
      expect(report.primaryBefore).toBe(PRIMARY)
      for (const write of report.writesBefore) {
        expect(write, `write ${write.seq}`).toMatchObject({ ok: true, picked: PRIMARY, server: PRIMARY })
      }
      for (const read of report.readsBefore) {
        expect(read).toEqual({ server: STANDBY, inRecovery: true, rowsSeen: 10 })
      }
    })

    it('routes writes to the promoted standby within the probe interval + 1 s of the stop', () => {
      expect(report.primaryAfter).toBe(STANDBY)
      const failed = report.writesDuringFailover.filter((w) => !w.ok)
      console.log(
        `[postgres failover] writes follow ${report.switchAfterStopMs.toFixed(0)} ms after the old primary's stop ` +
          `(probe interval ${PROBE_INTERVAL} ms); ${report.writesDuringFailover.length} writes during the failover, ` +
          `${failed.length} failed: ${[...new Set(failed.map((w) => w.error))].join(', ')}`,
      )
      expect(report.switchAfterStopMs).toBeLessThan(PROBE_INTERVAL + 1_000)
      for (const write of report.writesAfter) {
        expect(write, `write ${write.seq}`).toMatchObject({ ok: true, picked: STANDBY, server: STANDBY })
      }
    })

    it('never sends a write to a server in recovery', () => {
      expect(report.readOnlyRejections).toBe(0)
      for (const write of [...report.writesBefore, ...report.writesDuringFailover, ...report.writesAfter]) {
        expect(write.error ?? '', `write ${write.seq} (${write.phase})`).not.toMatch(/25006/)
        if (write.ok) expect(write.server, `write ${write.seq} (${write.phase})`).toBe(write.picked)
      }
    })

    it('keeps every row the new primary acknowledged', async () => {
      const rows = await pair!.standby.query<{ seq: number; server: string }>(
        'SELECT seq, host(written_on) AS server FROM demo_writes ORDER BY seq',
      )
      const stored = new Map(rows.rows.map((r) => [r.seq, r]))
      for (const write of report.writesBefore) expect(stored.get(write.seq)?.server).toBe(PRIMARY)
      for (const write of [...report.writesDuringFailover, ...report.writesAfter]) {
        if (write.ok && write.server === STANDBY) expect(stored.get(write.seq)?.server).toBe(STANDBY)
      }
    })

    it('falls back to the primary for replicaPreferred reads once no replica is left', () => {
      for (const read of report.readsAfter) expect(read).toMatchObject({ server: STANDBY, inRecovery: false })
    })
  })
})
