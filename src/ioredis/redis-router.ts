import type { Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import { debuglog } from 'node:util'
import type { Command, RedisOptions } from 'ioredis'
import { Redis } from 'ioredis'
import { EndpointClients } from '../adapters/endpoint-clients.js'
import { ProbeTracker } from '../adapters/probe-tracker.js'
import type { RouterPrimaryOptions } from '../adapters/router-options.js'
import { clientOptions, readPreferenceOption, routerPoolOptions } from '../adapters/router-options.js'
import { waitForRoles } from '../adapters/wait-for-roles.js'
import type { ReadyOptions } from '../discovery/endpoint-source.js'
import type { Endpoint } from '../endpoint.js'
import { ClosedError } from '../errors.js'
import type { Lease, PickOptions, ReadPreference } from '../lease.js'
import { requireObject } from '../options.js'
import type { Pool, PoolEvents, PoolInternals, PoolOptions, PoolStats } from '../pool.js'
import { createPool } from '../pool.js'
import { classifyRedisError, isReadOnlyReply } from './redis-failure.js'
import { redisRole } from './redis-role-probe.js'

const debug = debuglog('headless-lb')

/** ioredis options without where to connect: the router connects to each pod's address. */
export type RedisClientOptions = Omit<
  RedisOptions,
  'host' | 'port' | 'path' | 'sentinels' | 'Connector' | 'replyMapping'
>

/** Everything `createPool` takes (`service`, `port`/`portName`, `dns`, `balancer`...), and: */
export type RedisRouterOptions = Omit<PoolOptions, 'primary'> & {
  /** The endpoints' port when no `portName` is given. Default 6379. */
  port?: number
  /**
   * Options for each endpoint's ioredis client (password, db, tls, timeouts...), without host or
   * port. The router's defaults, which these override: `maxRetriesPerRequest: 1` (a command
   * queued while its server is down fails after one reconnect attempt instead of twenty, so a
   * failover is not hidden behind a growing queue) and `autoResendUnfulfilledCommands: false`
   * (a command already written to a connection that dropped is never sent again).
   */
  redis?: RedisClientOptions
  /** What `cache.replica` returns. Default `replicaPreferred`. */
  readPreference?: ReadPreference
  /**
   * How roles are found. Default: `ROLE` on each endpoint's client every `interval` ms (default
   * 5_000; `timeout` 2_000). Give `{ interval, timeout }` to tune it, or any `primary` option of
   * `createPool` (`{ probe }`, `{ ordinal }`, `{ name }`) to replace it.
   */
  primary?: RouterPrimaryOptions
}

/** One endpoint's client. */
export interface RedisConnectionStats {
  readonly endpoint: Endpoint
  /** ioredis's `status`: `connecting`, `ready`, `reconnecting`, `end`... */
  readonly status: string
}

export interface RedisRouterStats extends PoolStats {
  readonly connections: ReadonlyArray<RedisConnectionStats>
  /** `error` events of the clients (each failed connect or reconnect). */
  readonly clientErrors: number
}

const ROUTER_KEYS = ['redis', 'readPreference', 'primary'] as const
const FORBIDDEN_REDIS_KEYS = ['host', 'port', 'path', 'sentinels', 'Connector'] as const
const PICK_PRIMARY: PickOptions = Object.freeze({ role: 'primary' })
const CANCELLED = Object.freeze({ ok: false, kind: 'cancelled' } as const)

/**
 * A Redis router for a StatefulSet: one ioredis client per pod, the primary's for writes, a
 * replica's per read preference. Validates every option now; each client connects at once.
 */
export function createRedisRouter(options: RedisRouterOptions, internals?: PoolInternals): RedisRouter {
  const record = requireObject('options', options)
  const config = clientOptions('redis', record.redis, FORBIDDEN_REDIS_KEYS) as RedisClientOptions
  const readPreference = readPreferenceOption(record.readPreference)
  let core: RedisCore | undefined
  const probe = (endpoint: Endpoint, signal: AbortSignal) => core!.probe(endpoint, signal)
  const tracker = new ProbeTracker()
  const poolOptions = routerPoolOptions(record, ROUTER_KEYS, 6379, probe, tracker)
  core = new RedisCore(createPool(poolOptions, internals), config)
  return new RedisRouter(core, readPreference, tracker)
}

/** One endpoint's client, and the leases waiting for its next command. */
class RedisEndpoint {
  readonly endpoint: Endpoint
  readonly client: Redis
  readonly send: Redis['sendCommand']
  /** Leases taken by `cache.primary` / `cache.replica`, each for the next command sent on the client. */
  readonly pending: Lease[] = []
  probing = false

  constructor(endpoint: Endpoint, client: Redis) {
    this.endpoint = endpoint
    this.client = client
    this.send = client.sendCommand
  }
}

/** Marks a command already accounted for: ioredis re-sends queued commands through sendCommand. */
const SEEN = Symbol('headless-lb.seen')

class RedisCore {
  readonly pool: Pool
  readonly clients: EndpointClients<RedisEndpoint>
  clientErrors = 0
  closed = false
  private readonly waiting: RedisEndpoint[] = []
  private flushScheduled = false
  private readonly flush = (): void => {
    this.flushScheduled = false
    for (const entry of this.waiting) {
      // A getter read whose client sent no command in the same tick (`cache.replica.status`, a
      // pipeline executed later): the lease frees its slot and says nothing about the endpoint.
      for (let lease = entry.pending.shift(); lease !== undefined; lease = entry.pending.shift()) {
        lease.release(CANCELLED)
      }
    }
    this.waiting.length = 0
  }

  constructor(pool: Pool, config: RedisClientOptions) {
    this.pool = pool
    this.clients = new EndpointClients<RedisEndpoint>(
      (endpoint) => this.createEndpoint(endpoint, config),
      (entry) => retire(entry),
    )
    pool.on('change', this.clients.onChange)
    for (const endpoint of pool.endpoints) this.clients.get(endpoint)
  }

  private createEndpoint(endpoint: Endpoint, config: RedisClientOptions): RedisEndpoint {
    const tls = config.tls
    const options: Omit<RedisOptions, 'replyMapping'> = {
      maxRetriesPerRequest: 1,
      autoResendUnfulfilledCommands: false,
      ...config,
      host: endpoint.address,
      port: endpoint.port,
    }
    // The certificate names the pod; ioredis would check it against the IP address.
    if (tls !== undefined && endpoint.hostname !== undefined)
      options.tls = { servername: endpoint.hostname, ...tls }
    const client = new Redis(options)
    const entry = new RedisEndpoint(endpoint, client)
    // Without a listener ioredis prints every failed connect; the pool hears of them through leases.
    client.on('error', (error: Error) => {
      this.clientErrors++
      debug('redis client of %s: %s', endpoint.id, error.message)
    })
    client.sendCommand = (command: Command, stream?: Parameters<Redis['sendCommand']>[1]): unknown => {
      const marked = command as Command & { [SEEN]?: true }
      if (marked[SEEN] !== true && !entry.probing) {
        marked[SEEN] = true
        const lease = entry.pending.shift()
        if (lease !== undefined) this.observe(command, lease)
        else this.watch(command, entry)
      }
      return entry.send.call(client, command, stream)
    }
    return entry
  }

  /** The client of an endpoint picked now, with a lease for its next command. */
  take(pick: PickOptions): Redis {
    if (this.closed) throw new ClosedError('redis router', this.pool.service)
    const lease = this.pool.acquire(pick)
    const entry = this.clients.get(lease.endpoint)
    entry.pending.push(lease)
    if (entry.pending.length === 1) this.waiting.push(entry)
    if (!this.flushScheduled) {
      this.flushScheduled = true
      queueMicrotask(this.flush)
    }
    return entry.client
  }

  /** Releases the lease when the command settles, with its outcome and latency. */
  private observe(command: Command, lease: Lease): void {
    const started = performance.now()
    const resolve = command.resolve
    const reject = command.reject
    let settled = false
    command.resolve = (value: unknown): void => {
      if (!settled) {
        settled = true
        lease.release({ ok: true, latency: performance.now() - started })
      }
      resolve(value)
    }
    command.reject = (error: Error): void => {
      if (!settled) {
        settled = true
        const failure = classifyRedisError(error)
        const latency = performance.now() - started
        lease.release(
          failure.endpointFailure ? { ok: false, error, kind: failure.kind, latency } : { ok: true, latency },
        )
      }
      reject(error)
    }
  }

  /**
   * A command on a client held across accesses has no lease. If it fails in a way that says the
   * primary is not (or no longer) the primary, the pool still hears of it through a lease on the
   * primary released as failed, which re-probes the roles at once.
   */
  private watch(command: Command, entry: RedisEndpoint): void {
    const reject = command.reject
    command.reject = (error: Error): void => {
      command.reject = reject
      const failure = classifyRedisError(error)
      if (failure.endpointFailure && (isReadOnlyReply(error) || failure.kind !== 'other')) {
        this.reportOnPrimary(entry, error, failure.kind)
      }
      reject(error)
    }
  }

  private reportOnPrimary(
    entry: RedisEndpoint,
    error: Error,
    kind: ReturnType<typeof classifyRedisError>['kind'],
  ): void {
    if (this.closed || this.pool.primary?.id !== entry.endpoint.id) return
    let lease: Lease
    try {
      lease = this.pool.acquire(PICK_PRIMARY)
    } catch {
      return
    }
    if (lease.endpoint.id === entry.endpoint.id) lease.release({ ok: false, error, kind })
    else lease.release(CANCELLED)
  }

  probe(endpoint: Endpoint, signal: AbortSignal): Promise<'primary' | 'replica'> {
    if (this.closed) return Promise.reject(new ClosedError('redis router', this.pool.service))
    const entry = this.clients.get(endpoint)
    return redisRole(entry.client, signal, (command) => {
      // The probe's own commands are not the application's: no lease, no accounting.
      entry.probing = true
      try {
        return entry.client.call(command)
      } finally {
        entry.probing = false
      }
    })
  }

  /** Leases still waiting for a command are freed at close. */
  flushNow(): void {
    this.flush()
  }
}

/**
 * Closes one endpoint's client: QUIT when connected (replies to commands already sent still
 * arrive), then resolves once its socket is closed, whatever state it was in.
 */
async function retire(entry: RedisEndpoint): Promise<void> {
  const client = entry.client
  if (client.status === 'ready') await client.quit().catch(() => {})
  const stream = client.stream as Socket | undefined
  client.disconnect()
  if (stream !== undefined && !stream.destroyed) {
    await new Promise<void>((resolve) => stream.once('close', () => resolve()))
  }
}

/** Created by `createRedisRouter`. */
export class RedisRouter {
  /** The headless-lb pool: endpoints, health, roles. */
  readonly pool: Pool
  /** What `replica` returns. */
  readonly readPreference: ReadPreference
  readonly #core: RedisCore
  readonly #replica: PickOptions
  readonly #tracker: ProbeTracker
  readonly #picks = new Map<ReadPreference, PickOptions>()
  #closing: Promise<void> | undefined

  /** @internal Use `createRedisRouter`. */
  constructor(core: RedisCore, readPreference: ReadPreference, tracker: ProbeTracker) {
    this.#core = core
    this.#tracker = tracker
    this.pool = core.pool
    this.readPreference = readPreference
    this.#replica = this.#pick(readPreference)
  }

  /**
   * The current primary's client. Read the getter for each command (`cache.primary.set(...)`):
   * after a failover it returns the new primary's client, and each read counts the next command
   * in flight on that endpoint. Throws NoPrimaryError when no primary is known: a write never goes
   * to a replica.
   */
  get primary(): Redis {
    return this.#core.take(PICK_PRIMARY)
  }

  /** A client chosen per read by `readPreference` and the balancer; read the getter each time. */
  get replica(): Redis {
    return this.#core.take(this.#replica)
  }

  /** A client chosen by another read preference (`cache.client('nearest').get(k)`). */
  client(readPreference: ReadPreference): Redis {
    return this.#core.take(this.#pick(readPreference))
  }

  /**
   * Resolves once discovery has answered, the primary is known and every endpoint has been probed
   * once; rejects with ResolutionError or NoPrimaryError after `timeout` (default 10 s).
   */
  ready(options?: ReadyOptions): Promise<void> {
    if (this.#closing) return Promise.reject(new ClosedError('redis router', this.pool.service))
    return waitForRoles(this.pool, this.#tracker, options)
  }

  stats(): RedisRouterStats {
    return {
      ...this.pool.stats(),
      connections: this.#core.clients.entries().map(({ endpoint, client }) => ({
        endpoint,
        status: client.client.status,
      })),
      clientErrors: this.#core.clientErrors,
    }
  }

  /** The pool's events: `change`, `primary`, `health`, `eject`, `panic`, `error`. */
  on<K extends keyof PoolEvents>(event: K, listener: (...args: PoolEvents[K]) => void): this {
    this.pool.on(event, listener as never)
    return this
  }

  once<K extends keyof PoolEvents>(event: K, listener: (...args: PoolEvents[K]) => void): this {
    this.pool.once(event, listener as never)
    return this
  }

  off<K extends keyof PoolEvents>(event: K, listener: (...args: PoolEvents[K]) => void): this {
    this.pool.off(event, listener as never)
    return this
  }

  /** Stops discovery and probes, QUITs every client and resolves once every socket is closed. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const core = this.#core
      core.closed = true
      this.pool.off('change', core.clients.onChange)
      core.flushNow()
      await this.pool.close()
      await core.clients.close()
    })()
    return this.#closing
  }

  /** `close()`, under the name ioredis uses for a graceful close. */
  quit(): Promise<void> {
    return this.close()
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  #pick(readPreference: ReadPreference): PickOptions {
    let pick = this.#picks.get(readPreference)
    if (pick === undefined) {
      pick =
        readPreferenceOption(readPreference) === 'primary' ? PICK_PRIMARY : Object.freeze({ readPreference })
      this.#picks.set(readPreference, pick)
    }
    return pick
  }
}
