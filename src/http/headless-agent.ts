import { LRUCache } from 'lru-cache'
import { Agent, Client, Dispatcher, Dispatcher1Wrapper, Pool } from 'undici'
import { ClosedError } from '../errors.js'
import type { Clock } from '../internal/clock.js'
import { systemClock } from '../internal/clock.js'
import { durationMs, integerIn, invalidType, rejectUnknownKeys, requireObject } from '../options.js'
import {
  type AgentInternals,
  type AgentServiceOptions,
  AgentServices,
  normalizeHost,
} from './agent-services.js'
import { BalancedDispatcher } from './balanced-dispatcher.js'
import { HTTP_OPTION_KEYS, type HttpOptions } from './client-options.js'
import { parseOrigin } from './parse-origin.js'

export type { AgentServiceOptions } from './agent-services.js'

export interface HeadlessAgentOptions extends HttpOptions {
  /** Services to balance, by host name (FQDN as requests name it). Their HTTP options override the agent's. */
  services: Readonly<Record<string, AgentServiceOptions>>
  /** Options of the undici Agent that serves every other host. */
  passThrough?: Agent.Options
}

const AGENT_KEYS = [...HTTP_OPTION_KEYS, 'services', 'passThrough']

/**
 * Balanced origins (ports) kept per service. A service exposes a few ports; a caller naming many
 * more (a port scan, ports from user input) must not grow pools without bound: past this, the
 * least recently used origin is closed (gracefully) to make room.
 */
export const MAX_ORIGINS_PER_SERVICE = 16
/**
 * An origin with no request in a whole sweep period (and none unfinished) is closed: between one
 * and two periods after its last request. The next request makes it again (and waits for DNS).
 */
export const IDLE_SWEEP_MS = 60_000

/** A balanced origin: its dispatcher, the service it belongs to, and whether it was used lately. */
interface OriginEntry {
  readonly dispatcher: BalancedDispatcher
  readonly host: string
  used: boolean
}

/**
 * An undici Dispatcher for a whole process: requests to the listed services are balanced per
 * request across their endpoints (one pool and one BalancedDispatcher per service origin, made
 * on first use); requests to any other host go through a plain undici Agent.
 */
export class HeadlessAgent extends Dispatcher {
  readonly #services: AgentServices
  /** Balanced origins only: at most MAX_ORIGINS_PER_SERVICE per configured service. */
  readonly #byOrigin = new Map<string, OriginEntry>()
  /** Origins closed (evicted or idle) and still finishing their requests: close/destroy reach them. */
  readonly #retiring = new Set<BalancedDispatcher>()
  readonly #clock: Clock
  #sweepTimer: unknown
  /**
   * Origins known to pass through, so a request to another host skips parsing its origin. Bounded:
   * a process may call any number of hosts, and this must not grow with them.
   */
  readonly #passThroughOrigins = new LRUCache<string, true>({ max: 1024 })
  readonly #balanced = new Set<BalancedDispatcher>()
  readonly #passThrough: Agent
  #closed = false
  #closing: Promise<void> | null = null

  constructor(options: HeadlessAgentOptions, internals: AgentInternals = {}) {
    super()
    this.#clock = internals.clock ?? systemClock
    const o = requireObject('options', options)
    rejectUnknownKeys('', o, AGENT_KEYS)
    this.#services = new AgentServices(o, undefined, internals)
    this.#passThrough = new Agent(validatePassThrough(o.passThrough))
  }

  /** The balanced dispatchers made so far (one per service origin): stats, pools, events. */
  get services(): ReadonlyArray<BalancedDispatcher> {
    return [...this.#balanced]
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    // Node's global fetch (its bundled undici) calls the legacy handler API (onConnect, onHeaders,
    // onError...), which undici 8's Agent refuses and which has no onResponseError: wrap it here,
    // for the pass-through Agent and for the error after close.
    const h =
      typeof handler.onRequestStart === 'function'
        ? handler
        : (
            Dispatcher1Wrapper as unknown as { wrapHandler(h: unknown): Dispatcher.DispatchHandler }
          ).wrapHandler(handler)
    if (this.#closed) {
      h.onResponseError?.(null as never, new ClosedError('HeadlessAgent'))
      return true
    }
    const origin = options.origin
    const key = typeof origin === 'string' ? origin : origin === undefined ? '' : origin.origin
    if (this.#passThroughOrigins.has(key)) return this.#passThrough.dispatch(options, h)
    let entry = this.#byOrigin.get(key)
    if (entry === undefined) {
      const target = this.#targetFor(origin)
      if (target === this.#passThrough) {
        this.#passThroughOrigins.set(key, true)
        return target.dispatch(options, h)
      }
      entry = this.#add(key, target as OriginEntry)
    }
    entry.used = true
    return entry.dispatcher.dispatch(options, h)
  }

  /** Registers a new balanced origin, making room in its service and starting the idle sweep. */
  #add(key: string, entry: OriginEntry): OriginEntry {
    let count = 0
    let victim: string | undefined
    let oldest: string | undefined
    for (const [k, e] of this.#byOrigin) {
      if (e.host !== entry.host) continue
      count++
      oldest ??= k
      if (victim === undefined && !e.used) victim = k
    }
    if (count >= MAX_ORIGINS_PER_SERVICE) this.#retire((victim ?? oldest) as string)
    this.#byOrigin.set(key, entry)
    this.#balanced.add(entry.dispatcher)
    if (this.#sweepTimer === undefined) this.#scheduleSweep()
    return entry
  }

  #scheduleSweep(): void {
    this.#sweepTimer = this.#clock.setTimeout(() => {
      this.#sweepTimer = undefined
      if (this.#closed) return
      for (const [key, entry] of this.#byOrigin) {
        if (!entry.used && entry.dispatcher.idle) this.#retire(key)
        else entry.used = false
      }
      if (this.#byOrigin.size > 0) this.#scheduleSweep()
    }, IDLE_SWEEP_MS)
  }

  /** Closes an origin gracefully (its requests finish); the next request to it makes a new one. */
  #retire(key: string): void {
    const entry = this.#byOrigin.get(key)
    if (entry === undefined) return
    this.#byOrigin.delete(key)
    const d = entry.dispatcher
    this.#balanced.delete(d)
    this.#retiring.add(d)
    d.close().then(
      () => this.#retiring.delete(d),
      () => this.#retiring.delete(d),
    )
  }

  #targetFor(origin: string | URL | undefined): Dispatcher | OriginEntry {
    if (origin === undefined) return this.#passThrough
    let parsed: ReturnType<typeof parseOrigin>
    try {
      parsed = parseOrigin('origin', typeof origin === 'string' ? new URL(origin).origin : origin.origin)
    } catch {
      return this.#passThrough
    }
    const opened = this.#services.open(parsed)
    if (opened === undefined) return this.#passThrough
    const dispatcher = new BalancedDispatcher({
      pool: opened.pool,
      ...(opened.closePool === undefined ? {} : { closePool: opened.closePool }),
      protocol: parsed.protocol,
      hostname: parsed.hostname,
      origin: parsed.origin,
      http: opened.http,
    })
    return { dispatcher, host: normalizeHost(parsed.hostname), used: false }
  }

  override close(): Promise<void>
  override close(callback: () => void): void
  override close(callback?: () => void): Promise<void> | undefined {
    this.#closed = true
    this.#clock.clearTimeout(this.#sweepTimer)
    this.#sweepTimer = undefined
    this.#closing ??= Promise.all([
      ...[...this.#balanced, ...this.#retiring].map((d) => d.close()),
      this.#passThrough.close(),
    ]).then(() => undefined)
    const done = this.#closing
    if (callback === undefined) return done
    done.then(callback, callback)
    return undefined
  }

  override destroy(): Promise<void>
  override destroy(error: Error | null): Promise<void>
  override destroy(callback: () => void): void
  override destroy(error: Error | null, callback: () => void): void
  override destroy(
    errorOrCallback?: Error | null | (() => void),
    callback?: () => void,
  ): Promise<void> | undefined {
    this.#closed = true
    this.#clock.clearTimeout(this.#sweepTimer)
    this.#sweepTimer = undefined
    const error = typeof errorOrCallback === 'function' ? null : (errorOrCallback ?? null)
    const cb = typeof errorOrCallback === 'function' ? errorOrCallback : callback
    const previous = this.#closing
    const done = Promise.all([
      previous,
      ...[...this.#balanced, ...this.#retiring].map((d) => d.destroy(error)),
      this.#passThrough.destroyed ? undefined : this.#passThrough.destroy(error),
    ]).then(() => undefined)
    this.#closing ??= done
    if (cb === undefined) return done
    done.then(cb, cb)
    return undefined
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

/** Agent options whose values undici checks only when it first connects somewhere: checked now. */
const PASS_THROUGH_DURATIONS = [
  'keepAliveTimeout',
  'keepAliveMaxTimeout',
  'keepAliveTimeoutThreshold',
  'headersTimeout',
  'bodyTimeout',
  'connectTimeout',
]

/**
 * undici's Agent makes its Pools and Clients (and validates their options) at the first request
 * to each origin: a mistake in `passThrough` would surface as a request error much later.
 */
function validatePassThrough(value: unknown): Agent.Options | undefined {
  if (value === undefined) return undefined
  const o = requireObject('passThrough', value)
  if (o.connections !== undefined && o.connections !== null) {
    integerIn('passThrough.connections', o.connections, 0, 1, Number.MAX_SAFE_INTEGER)
  }
  if (o.pipelining !== undefined) integerIn('passThrough.pipelining', o.pipelining, 0, 0, 1_000)
  for (const key of PASS_THROUGH_DURATIONS) durationMs(`passThrough.${key}`, o[key], 0)
  // Everything else as undici itself checks it, by making (without connecting) what the Agent
  // would make: a Pool and a Client for one origin.
  try {
    void new Pool('http://localhost', o as Pool.Options).close()
    void new Client('http://localhost', o as Client.Options).close()
  } catch (error) {
    throw invalidType(
      'passThrough',
      'options undici accepts',
      o,
      `undici says: ${(error as Error).message}`,
      error,
    )
  }
  return o as Agent.Options
}
