import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { orphanInChild, processesMentioning } from '../test/support/orphan-process.js'
import { until } from '../test/support/until.js'
import { type PostgresPair, postgresSupport, startPostgresPair } from './postgres.js'

const support = postgresSupport()
if (!support.supported) console.log(`skipping the PostgreSQL harness tests: ${support.reason}`)

describe.skipIf(!support.supported)('the PostgreSQL pair harness', () => {
  let pair: PostgresPair

  beforeAll(async () => {
    pair = await startPostgresPair()
  })
  afterAll(async () => {
    await pair?.close()
  })

  it('starts a primary on 127.0.20.1 and a standby in recovery on 127.0.20.2', async () => {
    expect(pair.primary.connection.host).toBe('127.0.20.1')
    expect(pair.standby.connection.host).toBe('127.0.20.2')
    expect(await pair.primary.isInRecovery()).toBe(false)
    expect(await pair.standby.isInRecovery()).toBe(true)
    // Each server really listens on its own address, not a shared one.
    const [primaryAddr, standbyAddr] = await Promise.all(
      [pair.primary, pair.standby].map(
        async (server) =>
          (await server.query<{ addr: string }>('SELECT inet_server_addr()::text AS addr')).rows[0]!.addr,
      ),
    )
    expect(primaryAddr).toBe('127.0.20.1/32')
    expect(standbyAddr).toBe('127.0.20.2/32')
  })

  it('streams a row written on the primary to the standby, which refuses writes', async () => {
    await pair.primary.query('CREATE TABLE harness_check (id int PRIMARY KEY, note text)')
    await pair.primary.query('INSERT INTO harness_check VALUES (1, $1)', ['from the primary'])
    await pair.waitForReplication()
    const rows = (await pair.standby.query('SELECT id, note FROM harness_check')).rows
    expect(rows).toEqual([{ id: 1, note: 'from the primary' }])
    await expect(pair.standby.query('INSERT INTO harness_check VALUES (2, $1)', ['x'])).rejects.toThrow(
      /read-only transaction/,
    )
    const senders = await pair.primary.query<{ state: string }>('SELECT state FROM pg_stat_replication')
    expect(senders.rows.map((r) => r.state)).toEqual(['streaming'])
  })

  it('promotes the standby, which then takes writes while the old primary is stopped', async () => {
    await pair.standby.promote()
    await pair.standby.waitUntilPrimary()
    await pair.primary.stop()
    expect(pair.primary.running).toBe(false)
    await expect(pair.primary.query('SELECT 1')).rejects.toThrow()
    await pair.standby.query('INSERT INTO harness_check VALUES (2, $1)', ['after promotion'])
    const count = await pair.standby.query<{ n: string }>('SELECT count(*) AS n FROM harness_check')
    expect(count.rows[0]!.n).toBe('2')
  })

  it('restarts a stopped server', async () => {
    await pair.primary.start()
    await pair.primary.waitUntilPrimary()
    expect(pair.primary.running).toBe(true)
  })

  it('close() stops both servers and deletes the temp dir, and is idempotent', async () => {
    const dir = pair.baseDir
    expect(existsSync(dir)).toBe(true)
    await Promise.all([pair.close(), pair.close()])
    await pair.close()
    expect(existsSync(dir)).toBe(false)
    await expect(pair.standby.query('SELECT 1')).rejects.toThrow()
  })
})

const harness = fileURLToPath(new URL('./postgres.ts', import.meta.url))

/** A separate Node process that starts a pair and dies without close(). */
function pairInChild(how: 'exit' | 'sigkill') {
  const body = `
    const { startPostgresPair } = await import(${JSON.stringify(harness)})
    const pair = await startPostgresPair()
    const dir = pair.baseDir
  `
  return orphanInChild(body, how)
}

describe.skipIf(!support.supported)('the PostgreSQL pair is cleaned up without close()', () => {
  it('a process that exits without close() leaves no server and no temp dir', async () => {
    const { child, started } = pairInChild('exit')
    const { dir } = await started
    const [code] = (await once(child, 'exit')) as [number | null]
    expect(code).toBe(3)
    expect(existsSync(dir)).toBe(false)
    await until(
      `no process mentioning ${dir}`,
      async () => (await processesMentioning(dir)).length === 0,
      10_000,
    )
  })

  it("a SIGKILLed process's servers are stopped and its dir swept by the next pair", async () => {
    const { child, started } = pairInChild('sigkill')
    const { dir } = await started
    // pg_ctl daemonizes the servers: they outlive their owner.
    expect((await processesMentioning(dir)).length).toBeGreaterThan(0)
    child.kill('SIGKILL')
    await once(child, 'exit')
    expect(existsSync(dir)).toBe(true)
    // The next pair needs the same addresses: it can only start once the stale servers are gone.
    const pair = await startPostgresPair()
    await pair.close()
    expect(existsSync(dir)).toBe(false)
    await until(
      `no process mentioning ${dir}`,
      async () => (await processesMentioning(dir)).length === 0,
      10_000,
    )
  })
})
