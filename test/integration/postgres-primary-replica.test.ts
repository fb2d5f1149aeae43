/**
 * The real proof of primary/replica routing (issue 4): a PostgreSQL primary and streaming
 * standby served as the StatefulSet `db` in the lab's DNS, a pool whose primary probe asks
 * `pg_is_in_recovery()`, writes and reads through it, then a failover. Runs the example
 * (examples/postgres-primary-replica/failover-demo.ts) and checks every write and read, and
 * where the rows really are.
 */
import { Resolver } from 'node:dns/promises'
import { once } from 'node:events'
import { createServer, type Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type FailoverReport,
  runFailoverDemo,
} from '../../examples/postgres-primary-replica/failover-demo.js'
import { pgRoleProbe } from '../../examples/postgres-primary-replica/pg-role-probe.js'
import type { Endpoint } from '../../src/index.js'
import type { Lab } from '../lab/api.js'
import { startLab } from '../lab/index.js'
import { type PostgresPair, postgresSupport, startPostgresPair } from '../lab/postgres.js'

const support = postgresSupport()
if (!support.supported) console.log(`skipping the PostgreSQL primary/replica proof: ${support.reason}`)

const PRIMARY = '127.0.20.1'
const STANDBY = '127.0.20.2'
const PROBE_INTERVAL = 250

function endpointAt(address: string, port: number): Endpoint {
  return { id: `${address}:${port}`, address, family: 4, port }
}

describe.skipIf(!support.supported)('the pg_is_in_recovery() probe', () => {
  let pair: PostgresPair | undefined
  const probe = pgRoleProbe({ user: 'postgres' })

  beforeAll(async () => {
    pair = await startPostgresPair({ primaryAddress: PRIMARY, standbyAddress: STANDBY })
  })
  afterAll(async () => {
    await pair?.close()
  })

  it('says primary for the primary and replica for the streaming standby', async () => {
    const signal = new AbortController().signal
    expect(await probe(endpointAt(PRIMARY, pair!.primary.port), signal)).toBe('primary')
    expect(await probe(endpointAt(STANDBY, pair!.standby.port), signal)).toBe('replica')
  })

  it('rejects when nothing listens (so the pool knows no role for it)', async () => {
    await expect(probe(endpointAt('127.0.20.3', 5432), new AbortController().signal)).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    })
  })

  it('gives up on abort and closes its connection to a server that never answers', async () => {
    const sockets: Socket[] = []
    // Reads (so it sees the client's FIN) but never answers the startup message.
    const server = createServer((socket) => {
      sockets.push(socket)
      socket.resume()
    })
    server.listen(5432, '127.0.20.3')
    await once(server, 'listening')
    try {
      const controller = new AbortController()
      const probing = probe(endpointAt('127.0.20.3', 5432), controller.signal)
      // Abort once the probe's connection is open (it waits for the server's answer forever).
      while (sockets.length === 0) await once(server, 'connection')
      const closed = once(sockets[0]!, 'close')
      const reason = new Error('probe timeout')
      controller.abort(reason)
      await expect(probing).rejects.toBe(reason)
      await closed
    } finally {
      server.close()
    }
  })
})

describe.skipIf(!support.supported)('writes follow a PostgreSQL primary through a failover', () => {
  let lab: Lab | undefined
  let pair: PostgresPair | undefined
  let report: FailoverReport

  beforeAll(async () => {
    const [startedLab, startedPair] = await Promise.allSettled([
      startLab(),
      startPostgresPair({ primaryAddress: PRIMARY, standbyAddress: STANDBY }),
    ])
    if (startedLab.status === 'fulfilled') lab = startedLab.value
    if (startedPair.status === 'fulfilled') pair = startedPair.value
    if (startedLab.status === 'rejected') throw startedLab.reason
    if (startedPair.status === 'rejected') throw startedPair.reason
    report = await runFailoverDemo({
      lab: lab!,
      pair: pair!,
      probeInterval: PROBE_INTERVAL,
      log: (line) => console.log(`[postgres demo] ${line}`),
    })
  }, 120_000)

  afterAll(async () => {
    // Both, always: a failed start or demo must not leave servers or temp dirs behind.
    await Promise.allSettled([pair?.close(), lab?.close()])
  })

  it("publishes the StatefulSet's pods at the servers' addresses in the lab's DNS", async () => {
    const dns = new Resolver({ timeout: 1_000, tries: 2 })
    dns.setServers([lab!.dnsServer])
    expect(await dns.resolve4(`db-0.${report.service}`)).toEqual([PRIMARY])
    expect(await dns.resolve4(`db-1.${report.service}`)).toEqual([STANDBY])
    expect((await dns.resolve4(report.service)).sort()).toEqual([PRIMARY, STANDBY])
  })

  it('finds db-0 as the primary by probing', () => {
    expect(report.primaryBefore).toBe(PRIMARY)
  })

  it('sends every write to the primary, which commits it there', () => {
    expect(report.writesBefore).toHaveLength(10)
    for (const write of report.writesBefore) {
      expect(write, `write ${write.seq}`).toMatchObject({ ok: true, picked: PRIMARY, server: PRIMARY })
    }
  })

  it('sends every read to the standby, in recovery and streaming the writes', () => {
    expect(report.readsBefore).toHaveLength(10)
    for (const read of report.readsBefore) {
      expect(read).toEqual({ picked: STANDBY, server: STANDBY, inRecovery: true, rowsSeen: 10 })
    }
  })

  it('routes writes to the promoted standby once the probe sees it, and they succeed there', () => {
    expect(report.primaryAfter).toBe(STANDBY)
    expect(report.writesAfter).toHaveLength(10)
    for (const write of report.writesAfter) {
      expect(write, `write ${write.seq}`).toMatchObject({ ok: true, picked: STANDBY, server: STANDBY })
    }
    console.log(
      `[postgres demo] switch ${report.switchAfterStopMs.toFixed(0)} ms after the stop (probe interval ${PROBE_INTERVAL} ms); ` +
        `${report.writesDuringFailover.length} writes during the failover, ${report.writesDuringFailover.filter((w) => !w.ok).length} failed`,
    )
  })

  it('never sends a write to a server in recovery', () => {
    expect(report.readOnlyRejections).toBe(0)
    const all = [...report.writesBefore, ...report.writesDuringFailover, ...report.writesAfter]
    for (const write of all) {
      expect(write.error ?? '', `write ${write.seq} (${write.phase})`).not.toMatch(/25006/)
      // Every committed write ran on the server the pool picked.
      if (write.ok) expect(write.server, `write ${write.seq} (${write.phase})`).toBe(write.picked)
    }
    // Before the promotion completes the standby is in recovery: no write was picked for it then.
    for (const write of report.writesBefore) expect(write.picked).not.toBe(STANDBY)
  })

  it('keeps every row the new primary acknowledged, and the rows replicated before the failover', async () => {
    const rows = await pair!.standby.query<{ seq: number; phase: string; server: string }>(
      'SELECT seq, phase, host(written_on) AS server FROM demo_writes ORDER BY seq',
    )
    const stored = new Map(rows.rows.map((r) => [r.seq, r]))
    for (const write of report.writesBefore) expect(stored.get(write.seq)?.server).toBe(PRIMARY)
    const acknowledgedByNew = [...report.writesDuringFailover, ...report.writesAfter].filter(
      (w) => w.ok && w.server === STANDBY,
    )
    for (const write of acknowledgedByNew)
      expect(stored.get(write.seq)?.server, `write ${write.seq}`).toBe(STANDBY)
    expect(await pair!.standby.isInRecovery()).toBe(false)
  })

  it('falls back to the primary for replicaPreferred reads once no replica is left', () => {
    for (const read of report.readsAfter) {
      expect(read).toMatchObject({ picked: STANDBY, server: STANDBY, inRecovery: false })
    }
  })
})
