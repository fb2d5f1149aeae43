import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
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

/** Pids of processes whose command line mentions `text` (postgres runs with `-D <dataDir>`). */
async function processesMentioning(text: string): Promise<number[]> {
  const pids: number[] = []
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8')
      if (cmdline.includes(text)) pids.push(Number(entry))
    } catch {}
  }
  return pids
}

async function eventually(check: () => Promise<boolean>, deadlineMs: number): Promise<boolean> {
  const deadline = Date.now() + deadlineMs
  for (;;) {
    if (await check()) return true
    if (Date.now() > deadline) return false
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

const harness = fileURLToPath(new URL('./postgres.ts', import.meta.url))

/** A separate Node process that starts a pair and dies without close() ('exit': process.exit; 'sigkill': waits to be killed). */
function pairInChild(how: 'exit' | 'sigkill'): { child: ChildProcess; started: Promise<{ dir: string }> } {
  const script = `
    import { registerHooks } from 'node:module'
    registerHooks({
      resolve(specifier, context, next) {
        try { return next(specifier, context) } catch (error) {
          if (specifier.startsWith('.') && specifier.endsWith('.js')) return next(specifier.slice(0, -3) + '.ts', context)
          throw error
        }
      },
    })
    const { startPostgresPair } = await import(${JSON.stringify(harness)})
    const pair = await startPostgresPair()
    console.log(JSON.stringify({ dir: pair.baseDir }))
    if (${JSON.stringify(how)} === 'exit') process.exit(3)
    setInterval(() => {}, 1000)
  `
  const child = spawn(process.execPath, ['--input-type=module', '--no-warnings', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const started = new Promise<{ dir: string }>((resolve, reject) => {
    let out = ''
    child.stdout!.setEncoding('utf8').on('data', (c: string) => {
      out += c
      const line = out.split('\n').find((l) => l.startsWith('{'))
      if (line) resolve(JSON.parse(line) as { dir: string })
    })
    child.once('exit', (code) => reject(new Error(`child exited (${code}) before starting its pair: ${out}`)))
  })
  return { child, started }
}

describe.skipIf(!support.supported)('the PostgreSQL pair is cleaned up without close()', () => {
  it('a process that exits without close() leaves no server and no temp dir', async () => {
    const { child, started } = pairInChild('exit')
    const { dir } = await started
    const [code] = (await once(child, 'exit')) as [number | null]
    expect(code).toBe(3)
    expect(existsSync(dir)).toBe(false)
    expect(await eventually(async () => (await processesMentioning(dir)).length === 0, 10_000)).toBe(true)
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
    expect(await eventually(async () => (await processesMentioning(dir)).length === 0, 10_000)).toBe(true)
  })
})
