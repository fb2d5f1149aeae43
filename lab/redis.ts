/**
 * A real Redis primary and replica for the ioredis router's proof: two `redis-server` processes
 * (Debian's redis-server, Redis 7) on 127.0.21.1 and 127.0.21.2, same port, the replica started
 * with `--replicaof`. No persistence (no RDB, no AOF), working files in one temp dir. Not part of
 * the package: test and benchmark support only.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { registerExitCleanup } from './exit-cleanup.js'

/** Debian's binary; `HLB_REDIS_SERVER` overrides it. */
export const defaultRedisServer = process.env.HLB_REDIS_SERVER ?? '/usr/bin/redis-server'

/** Whether redis-server is here, and if not, a one-line reason to print in skips. */
export function redisSupport(binary = defaultRedisServer): { supported: boolean; reason: string } {
  if (existsSync(binary)) return { supported: true, reason: '' }
  return { supported: false, reason: `${binary} not found: install redis-server (scripts/lab-prereqs.sh)` }
}

export interface RedisServer {
  readonly host: string
  readonly port: number
  readonly running: boolean
  /** A fresh ioredis connection to this server (the caller quits it). */
  connect(): Redis
  /** One command on a fresh connection. */
  command(name: string, ...args: Array<string | number>): Promise<unknown>
  /** `REPLICAOF NO ONE`: the replica becomes a primary (a failover manager's promotion). */
  promote(): Promise<void>
  /** SIGTERM, and resolves once the process has exited (its port is free). */
  stop(): Promise<void>
  /** `INFO replication` as key/value pairs. */
  replication(): Promise<Record<string, string>>
}

export interface RedisPair {
  readonly primary: RedisServer
  readonly replica: RedisServer
  /** Resolves once the replica has the primary's current replication offset. */
  waitForReplication(options?: { timeout?: number }): Promise<void>
  /** Stops both servers and deletes the temp dir. Idempotent; never throws. */
  close(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}

export interface RedisPairOptions {
  /** Default 127.0.21.1. */
  primaryAddress?: string
  /** Default 127.0.21.2. */
  replicaAddress?: string
  /** Default 6379. */
  port?: number
  /** Deadline for each start and wait, ms. Default 10 000. */
  timeout?: number
}

async function waitFor(what: string, check: () => Promise<boolean>, timeout: number): Promise<void> {
  const deadline = Date.now() + timeout
  let last: unknown
  for (;;) {
    try {
      if (await check()) return
    } catch (error) {
      last = error
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeout} ms waiting until ${what}${last ? ` (${String(last)})` : ''}`,
      )
    }
    // A server's state has no event to wait for; the deadline bounds the polling.
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

class Server implements RedisServer {
  readonly host: string
  readonly port: number
  private readonly dir: string
  private readonly args: ReadonlyArray<string>
  private child: ChildProcess | undefined
  private exited: Promise<void> = Promise.resolve()
  output = ''

  constructor(host: string, port: number, dir: string, args: ReadonlyArray<string>) {
    this.host = host
    this.port = port
    this.dir = dir
    this.args = args
  }

  get running(): boolean {
    return this.child !== undefined
  }

  get pid(): number | undefined {
    return this.child?.pid
  }

  async start(timeout: number): Promise<void> {
    const child = spawn(
      defaultRedisServer,
      [
        '--bind',
        this.host,
        '--port',
        String(this.port),
        '--dir',
        this.dir,
        '--dbfilename',
        `${this.host}.rdb`,
        '--save',
        '',
        '--appendonly',
        'no',
        '--protected-mode',
        'no',
        '--daemonize',
        'no',
        '--loglevel',
        'warning',
        ...this.args,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    this.child = child
    child.stdout!.on('data', (chunk) => (this.output = (this.output + chunk).slice(-4000)))
    child.stderr!.on('data', (chunk) => (this.output = (this.output + chunk).slice(-4000)))
    this.exited = new Promise((resolve) =>
      child.once('exit', () => {
        if (this.child === child) this.child = undefined
        resolve()
      }),
    )
    try {
      await waitFor(
        `redis-server on ${this.host}:${this.port} answers PING`,
        async () => {
          if (this.child !== child) throw new Error(`redis-server exited: ${this.output}`)
          return (await this.command('PING')) === 'PONG'
        },
        timeout,
      )
    } catch (error) {
      await this.stop()
      throw error
    }
  }

  connect(): Redis {
    const client = new Redis({
      host: this.host,
      port: this.port,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    })
    client.on('error', () => {})
    return client
  }

  async command(name: string, ...args: Array<string | number>): Promise<unknown> {
    const client = this.connect()
    try {
      await client.connect()
      return await client.call(name, ...args)
    } finally {
      client.disconnect()
    }
  }

  async promote(): Promise<void> {
    await this.command('REPLICAOF', 'NO', 'ONE')
  }

  async replication(): Promise<Record<string, string>> {
    const text = String(await this.command('INFO', 'replication'))
    const fields: Record<string, string> = {}
    for (const line of text.split('\r\n')) {
      const at = line.indexOf(':')
      if (at > 0) fields[line.slice(0, at)] = line.slice(at + 1)
    }
    return fields
  }

  async stop(): Promise<void> {
    this.child?.kill('SIGTERM')
    await this.exited
  }

  killSync(): void {
    this.child?.kill('SIGKILL')
  }
}

/** Starts the primary, then the replica with `--replicaof`, and waits until the link is up. */
export async function startRedisPair(options: RedisPairOptions = {}): Promise<RedisPair> {
  const support = redisSupport()
  if (!support.supported) throw new Error(support.reason)
  const primaryAddress = options.primaryAddress ?? '127.0.21.1'
  const replicaAddress = options.replicaAddress ?? '127.0.21.2'
  const port = options.port ?? 6379
  const timeout = options.timeout ?? 10_000
  const dir = await mkdtemp(join(tmpdir(), `hlb-redis-${process.pid}-`))
  const primary = new Server(primaryAddress, port, dir, [])
  const replica = new Server(replicaAddress, port, dir, ['--replicaof', primaryAddress, String(port)])
  const unregisterExit = registerExitCleanup(() => {
    replica.killSync()
    primary.killSync()
    spawnSync('rm', ['-rf', dir])
  })
  let closed: Promise<void> | undefined
  const close = (): Promise<void> => {
    closed ??= (async () => {
      unregisterExit()
      await Promise.allSettled([replica.stop(), primary.stop()])
      await rm(dir, { recursive: true, force: true }).catch(() => {})
    })()
    return closed
  }
  try {
    await primary.start(timeout)
    await replica.start(timeout)
    await waitFor(
      'the replica is linked to the primary',
      async () => (await replica.replication()).master_link_status === 'up',
      timeout,
    )
  } catch (error) {
    await close()
    throw error
  }
  return {
    primary,
    replica,
    async waitForReplication(waitOptions = {}) {
      const target = Number((await primary.replication()).master_repl_offset)
      await waitFor(
        `the replica has the primary's offset ${target}`,
        async () => Number((await replica.replication()).slave_repl_offset) >= target,
        waitOptions.timeout ?? timeout,
      )
    },
    close,
    [Symbol.asyncDispose]: close,
  }
}
