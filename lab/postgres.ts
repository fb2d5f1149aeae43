/**
 * A real PostgreSQL primary and streaming standby for the primary/replica proof: two clusters
 * made with Debian's postgresql-15 binaries in one temp dir, the primary on 127.0.20.1 and the
 * standby on 127.0.20.2 (same port: the addresses differ), the standby cloned with
 * `pg_basebackup -R`. Not part of the package: test and example support only.
 *
 * initdb and postgres refuse to run as root, so when we are root every server command runs as
 * the `postgres` OS user (created by the Debian package; created here if missing) and the temp
 * dir belongs to it. Startup is tuned for speed, not durability (fsync off, tiny buffers).
 */
import { execFile, spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { appendFile, chown, mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { registerExitCleanup } from './exit-cleanup.js'

const TEMP_PREFIX = 'hlb-pg-'

/** Where Debian's postgresql-15 puts its binaries; `HLB_PG_BIN` overrides it. */
export const defaultPostgresBinDir = process.env.HLB_PG_BIN ?? '/usr/lib/postgresql/15/bin'

/** Whether the PostgreSQL binaries are here, and if not, a one-line reason to print in skips. */
export function postgresSupport(binDir = defaultPostgresBinDir): { supported: boolean; reason: string } {
  for (const tool of ['initdb', 'pg_ctl', 'pg_basebackup', 'postgres']) {
    if (!existsSync(join(binDir, tool))) {
      return {
        supported: false,
        reason: `${join(binDir, tool)} not found: install postgresql-15 (scripts/lab-prereqs.sh)`,
      }
    }
  }
  return { supported: true, reason: '' }
}

export interface PostgresPairOptions {
  /** Default 127.0.20.1. */
  primaryAddress?: string
  /** Default 127.0.20.2. */
  standbyAddress?: string
  /** Further streaming standbys, one per address (`standby-2`, `standby-3`...). Default none. */
  extraStandbyAddresses?: ReadonlyArray<string>
  /** Both servers listen on this port, each on its own address. Default 5432. */
  port?: number
  /** Default `defaultPostgresBinDir`. */
  binDir?: string
  /** Deadline for each server start, stop and promotion, ms. Default 30 000. */
  timeout?: number
}

/** `standby` is the first standby; further ones are `standby-2`, `standby-3`... */
export type ServerName = 'primary' | 'standby' | `standby-${number}`

export type StopMode = 'smart' | 'fast' | 'immediate'

/** One PostgreSQL server of the pair. `name` is what it was created as; roles change on promote(). */
export interface PostgresServer {
  readonly name: ServerName
  readonly host: string
  readonly port: number
  readonly dataDir: string
  readonly logFile: string
  /** Whether the harness last started (and has not since stopped) this server. */
  readonly running: boolean
  /** What a `pg` Client needs to reach this server (superuser `postgres`, trust auth). */
  readonly connection: pg.ClientConfig
  /** `pg_ctl start -w`. */
  start(): Promise<void>
  /** `pg_ctl stop -w`; default mode 'fast' (disconnects clients, clean shutdown). */
  stop(options?: { mode?: StopMode }): Promise<void>
  /** `pg_ctl promote -w`: resolves once the server has left recovery. */
  promote(): Promise<void>
  /** `SELECT pg_is_in_recovery()` on a fresh connection. */
  isInRecovery(): Promise<boolean>
  /** Resolves once the server accepts connections and is not in recovery; rejects after `timeout`. */
  waitUntilPrimary(options?: { timeout?: number }): Promise<void>
  /** Resolves once the server accepts connections and is in recovery; rejects after `timeout`. */
  waitUntilInRecovery(options?: { timeout?: number }): Promise<void>
  /** One query on a fresh connection (closed afterwards). */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    sql: string,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>>
  /** The end of the server log, for failure messages. */
  logTail(lines?: number): Promise<string>
}

export interface PostgresPair {
  /** The server created as the primary (on `primaryAddress`). */
  readonly primary: PostgresServer
  /** Every standby: `standby`, then those on `extraStandbyAddresses`. */
  readonly standbys: ReadonlyArray<PostgresServer>
  /** The server created as the streaming standby (on `standbyAddress`). */
  readonly standby: PostgresServer
  readonly baseDir: string
  /**
   * Resolves once the standby has replayed all WAL the primary had written when called (so a
   * committed INSERT is visible there); rejects after `timeout`.
   */
  waitForReplication(options?: { timeout?: number }): Promise<void>
  /** Stops both servers (immediately) and deletes the temp dir. Idempotent; never throws. */
  close(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}

interface RunAs {
  uid?: number
  gid?: number
}

// Settings for a fast, throwaway cluster: durability off (fsync, full_page_writes), small
// buffers, synchronous_commit left on so a committed row's WAL is flushed (and so streamable)
// when COMMIT returns, and what streaming replication and read queries on the standby need.
const baseConfig = `
# headless-lb test harness
unix_socket_directories = ''
fsync = off
full_page_writes = off
shared_buffers = 16MB
max_connections = 40
wal_level = replica
max_wal_senders = 5
wal_keep_size = 64MB
hot_standby = on
wal_receiver_status_interval = 1s
log_min_messages = warning
log_line_prefix = '%m [%p] '
`

// Trust for every loopback address, replication included: the standby clones and streams from
// the primary over 127.0.20.x, and the tests connect from 127.0.0.1 or the same address.
const hba = `
local all all trust
host all all 127.0.0.0/8 trust
host replication all 127.0.0.0/8 trust
`

function exec(
  file: string,
  args: ReadonlyArray<string>,
  options: { cwd: string; runAs: RunAs; timeout: number },
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      {
        cwd: options.cwd,
        ...options.runAs,
        // A plain C locale: initdb and the servers must not depend on the machine's locales.
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', LANG: 'C' },
        timeout: options.timeout,
        killSignal: 'SIGKILL',
      },
      (error, stdout, stderr) => {
        if (error) {
          reject(
            new Error(`${file} ${args.join(' ')} failed: ${error.message}\n${stderr || stdout}`.trim(), {
              cause: error,
            }),
          )
        } else {
          resolve(stdout)
        }
      },
    )
  })
}

/** The `postgres` OS user's uid/gid when we are root (creating the user if missing); {} otherwise. */
async function serverUser(): Promise<RunAs> {
  if (process.getuid?.() !== 0) return {}
  const options = { cwd: '/', runAs: {}, timeout: 10_000 }
  try {
    await exec('id', ['-u', 'postgres'], options)
  } catch {
    await exec('useradd', ['--system', '--user-group', '--no-create-home', 'postgres'], options)
  }
  const uid = Number((await exec('id', ['-u', 'postgres'], options)).trim())
  const gid = Number((await exec('id', ['-g', 'postgres'], options)).trim())
  return { uid, gid }
}

async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeout: number,
  diagnose: () => Promise<string>,
): Promise<void> {
  const deadline = Date.now() + timeout
  let lastError: unknown
  for (;;) {
    try {
      if (await check()) return
      lastError = undefined
    } catch (error) {
      lastError = error
    }
    if (Date.now() >= deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : ''
      throw new Error(`timed out after ${timeout} ms waiting until ${what}${why}\n${await diagnose()}`, {
        cause: lastError,
      })
    }
    // Polling is the only way to see a server's state change; the deadline bounds it. Not
    // unref()'d: the caller awaits this, so it must keep the process alive until it settles.
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

interface ServerSettings {
  readonly name: ServerName
  readonly host: string
  readonly port: number
  readonly baseDir: string
  readonly binDir: string
  readonly runAs: RunAs
  readonly timeout: number
}

class Server implements PostgresServer {
  running = false
  readonly name: ServerName
  readonly host: string
  readonly port: number
  readonly dataDir: string
  readonly logFile: string
  readonly connection: pg.ClientConfig
  readonly baseDir: string
  readonly binDir: string
  readonly runAs: RunAs
  readonly timeout: number

  constructor(settings: ServerSettings) {
    this.name = settings.name
    this.host = settings.host
    this.port = settings.port
    this.baseDir = settings.baseDir
    this.binDir = settings.binDir
    this.runAs = settings.runAs
    this.timeout = settings.timeout
    this.dataDir = join(settings.baseDir, settings.name)
    this.logFile = join(settings.baseDir, `${settings.name}.log`)
    this.connection = {
      host: settings.host,
      port: settings.port,
      user: 'postgres',
      database: 'postgres',
      connectionTimeoutMillis: 5_000,
    }
  }

  pgCtl(args: ReadonlyArray<string>): Promise<string> {
    const seconds = String(Math.ceil(this.timeout / 1000))
    return exec(join(this.binDir, 'pg_ctl'), [...args, '-D', this.dataDir, '-w', '-t', seconds], {
      cwd: this.baseDir,
      runAs: this.runAs,
      timeout: this.timeout + 5_000,
    })
  }

  async start(): Promise<void> {
    try {
      await this.pgCtl(['start', '-l', this.logFile])
    } catch (error) {
      throw new Error(`${this.name} (${this.host}:${this.port}) did not start\n${await this.logTail()}`, {
        cause: error,
      })
    }
    this.running = true
  }

  async stop(options: { mode?: StopMode } = {}): Promise<void> {
    await this.pgCtl(['stop', '-m', options.mode ?? 'fast'])
    this.running = false
  }

  async promote(): Promise<void> {
    await this.pgCtl(['promote'])
  }

  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    sql: string,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>> {
    const client = new pg.Client(this.connection)
    // A server that stops under us emits 'error' on the client; the query rejects anyway.
    client.on('error', () => {})
    try {
      await client.connect()
      return await client.query<R>(sql, values)
    } finally {
      await client.end().catch(() => {})
    }
  }

  async isInRecovery(): Promise<boolean> {
    const result = await this.query<{ recovery: boolean }>('SELECT pg_is_in_recovery() AS recovery')
    return result.rows[0]!.recovery
  }

  waitUntilPrimary(options: { timeout?: number } = {}): Promise<void> {
    return waitFor(
      `${this.name} (${this.host}) is a primary`,
      async () => !(await this.isInRecovery()),
      options.timeout ?? this.timeout,
      () => this.logTail(),
    )
  }

  waitUntilInRecovery(options: { timeout?: number } = {}): Promise<void> {
    return waitFor(
      `${this.name} (${this.host}) is in recovery`,
      () => this.isInRecovery(),
      options.timeout ?? this.timeout,
      () => this.logTail(),
    )
  }

  async logTail(lines = 20): Promise<string> {
    try {
      const text = await readFile(this.logFile, 'utf8')
      return `--- ${this.logFile} (last ${lines} lines) ---\n${text.trimEnd().split('\n').slice(-lines).join('\n')}`
    } catch {
      return `--- ${this.logFile}: no log ---`
    }
  }

  /** Best effort for close(): an immediate stop, whatever state the server is in. */
  async kill(): Promise<void> {
    if (!existsSync(join(this.dataDir, 'postmaster.pid'))) return
    await this.pgCtl(['stop', '-m', 'immediate']).catch(() => {
      // pg_ctl could not stop it (or timed out): kill the postmaster by its pid file.
      const pid = postmasterPid(this.dataDir)
      if (pid !== undefined) process.kill(pid, 'SIGKILL')
    })
    this.running = false
  }
}

/** The postmaster's pid from `postmaster.pid` (its first line), if the server looks alive. */
function postmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0])
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

/**
 * Synchronous last resort (process exit, stale dirs): an immediate stop with pg_ctl, which waits
 * until the server is gone (so nothing writes into the dir while it is removed), SIGKILL if
 * that fails; then the dir goes.
 */
function stopAndRemoveSync(baseDir: string, binDir: string, runAs: RunAs): void {
  const names = existsSync(baseDir) ? readdirSync(baseDir).filter((name) => name.startsWith('standby')) : []
  for (const name of [...names, 'primary']) {
    const dataDir = join(baseDir, name)
    const pid = postmasterPid(dataDir)
    if (pid === undefined) continue
    const stop = spawnSync(
      join(binDir, 'pg_ctl'),
      ['stop', '-m', 'immediate', '-D', dataDir, '-w', '-t', '10'],
      {
        cwd: baseDir,
        ...runAs,
        stdio: 'ignore',
        timeout: 15_000,
      },
    )
    if (stop.status !== 0) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {}
    }
  }
  rmSync(baseDir, { recursive: true, force: true, maxRetries: 3 })
}

/**
 * Stops the servers of earlier pairs whose process is gone (SIGKILLed before any clean-up could
 * run: pg_ctl daemonizes the servers, so they outlive it) and removes their dirs.
 */
async function sweepStalePairs(binDir: string, runAs: RunAs): Promise<void> {
  const entries = await readdir(tmpdir()).catch(() => [] as string[])
  for (const entry of entries) {
    const match = new RegExp(`^${TEMP_PREFIX}(\\d+)-`).exec(entry)
    if (!match) continue
    const pid = Number(match[1])
    if (pid === process.pid) continue
    try {
      process.kill(pid, 0)
      continue // its owner is alive
    } catch (error) {
      if ((error as { code?: string }).code !== 'ESRCH') continue
    }
    stopAndRemoveSync(join(tmpdir(), entry), binDir, runAs)
  }
}

/**
 * Creates and starts the pair: initdb + start the primary, pg_basebackup -R the standby from it,
 * start the standby and wait until it is in recovery and streaming. On any failure everything
 * made so far is stopped and deleted before the error is thrown.
 */
export async function startPostgresPair(options: PostgresPairOptions = {}): Promise<PostgresPair> {
  const binDir = options.binDir ?? defaultPostgresBinDir
  const support = postgresSupport(binDir)
  if (!support.supported) throw new Error(support.reason)
  const primaryAddress = options.primaryAddress ?? '127.0.20.1'
  const standbyAddress = options.standbyAddress ?? '127.0.20.2'
  const port = options.port ?? 5432
  const timeout = options.timeout ?? 30_000

  const runAs = await serverUser()
  await sweepStalePairs(binDir, runAs)
  // The owner's pid in the name lets a later run sweep this dir if we are killed.
  const baseDir = await mkdtemp(join(tmpdir(), `${TEMP_PREFIX}${process.pid}-`))
  const settings = { port, baseDir, binDir, runAs, timeout }
  const primary = new Server({ ...settings, name: 'primary', host: primaryAddress })
  const standby = new Server({ ...settings, name: 'standby', host: standbyAddress })
  const standbys = [
    standby,
    ...(options.extraStandbyAddresses ?? []).map(
      (host, i) => new Server({ ...settings, name: `standby-${i + 2}`, host }),
    ),
  ]

  // A test that never reaches close() (a crash, process.exit()) still stops the servers.
  const unregisterExit = registerExitCleanup(() => stopAndRemoveSync(baseDir, binDir, runAs))
  let closed: Promise<void> | undefined
  const close = (): Promise<void> => {
    closed ??= (async () => {
      unregisterExit()
      await Promise.allSettled([...standbys.map((s) => s.kill()), primary.kill()])
      await rm(baseDir, { recursive: true, force: true, maxRetries: 3 }).catch(() => {})
    })()
    return closed
  }

  try {
    if (runAs.uid !== undefined) await chown(baseDir, runAs.uid, runAs.gid!)
    const run = (tool: string, args: ReadonlyArray<string>) =>
      exec(join(binDir, tool), args, { cwd: baseDir, runAs, timeout })

    await run('initdb', [
      '-D',
      primary.dataDir,
      '-U',
      'postgres',
      '--auth=trust',
      '--no-locale',
      '-E',
      'UTF8',
    ])
    await appendFile(
      join(primary.dataDir, 'postgresql.conf'),
      `${baseConfig}listen_addresses = '${primaryAddress}'\nport = ${port}\n`,
    )
    await appendFile(join(primary.dataDir, 'pg_hba.conf'), hba)
    await primary.start()

    // -R writes primary_conninfo and standby.signal; -X stream copies the WAL the backup needs;
    // -c fast checkpoints at once instead of spreading it.
    for (const server of standbys) {
      await run('pg_basebackup', [
        '-h',
        primaryAddress,
        '-p',
        String(port),
        '-U',
        'postgres',
        '-D',
        server.dataDir,
        '-R',
        '-X',
        'stream',
        '-c',
        'fast',
      ])
      // The clone carries the primary's postgresql.conf; a later line wins, so the standby moves
      // to its own address.
      await appendFile(join(server.dataDir, 'postgresql.conf'), `listen_addresses = '${server.host}'\n`)
    }
    await Promise.all(
      standbys.map(async (server) => {
        await server.start()
        await server.waitUntilInRecovery()
        await waitFor(
          `${server.name} streams from the primary`,
          async () =>
            (
              await server.query<{ n: string }>(
                "SELECT count(*) AS n FROM pg_stat_wal_receiver WHERE status = 'streaming'",
              )
            ).rows[0]!.n === '1',
          timeout,
          async () => `${await primary.logTail()}\n${await server.logTail()}`,
        )
      }),
    )

    const pair: PostgresPair = {
      primary,
      standby,
      standbys,
      baseDir,
      async waitForReplication(waitOptions = {}) {
        const lsn = (await primary.query<{ lsn: string }>('SELECT pg_current_wal_flush_lsn()::text AS lsn'))
          .rows[0]!.lsn
        await waitFor(
          `the standby has replayed the primary's WAL up to ${lsn}`,
          async () =>
            (
              await standby.query<{ done: boolean }>(
                'SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS done',
                [lsn],
              )
            ).rows[0]!.done === true,
          waitOptions.timeout ?? timeout,
          async () => `${await primary.logTail()}\n${await standby.logTail()}`,
        )
      },
      close,
      [Symbol.asyncDispose]: close,
    }
    return pair
  } catch (error) {
    await close()
    throw error
  }
}
