import { debuglog } from 'node:util'
import type { Endpoint } from '../endpoint.js'
import { describeEndpoint } from '../endpoint.js'
import type { Pool, PoolInternals, PoolOptions } from '../pool.js'
import { createPool } from '../pool.js'
import type {
  GrpcEndpoint,
  GrpcLike,
  GrpcResolverConstructor,
  GrpcResolverListener,
  GrpcServiceConfig,
  GrpcStatusObject,
  GrpcUri,
} from './grpc-like.js'
import type { GrpcTarget } from './grpc-target.js'
import { parseGrpcTarget } from './grpc-target.js'

const debug = debuglog('headless-lb')

/** grpc's UNAVAILABLE: what a failed name resolution is reported as (grpc-js resolver-dns.ts does too). */
const UNAVAILABLE = 14

/**
 * grpc-js's default policy is pick_first: one connection, every call on one pod, which is the
 * problem this package exists for. A channel that configures no policy gets round_robin instead;
 * one that sets `grpc.service_config` keeps its own (a resolver's config would override it).
 */
const ROUND_ROBIN: GrpcServiceConfig = Object.freeze({
  loadBalancingConfig: Object.freeze([Object.freeze({ round_robin: {} })]),
  methodConfig: Object.freeze([]),
})

/** What every resolver of one registration shares. */
export interface ResolverContext {
  readonly grpc: GrpcLike
  readonly scheme: string
  /** Pool options for every target: discovery and health, without service and port. */
  readonly poolOptions: Readonly<Record<string, unknown>>
  readonly poolInternals: Omit<PoolInternals, 'source'>
  /** Called as pools are made and closed, and with each list handed to grpc-js. */
  readonly track: {
    opened(pool: Pool): void
    closed(pool: Pool): void
    update(target: GrpcTarget, endpoints: ReadonlyArray<Endpoint>, note: string): void
    error(error: Error): void
  }
}

/**
 * One channel's resolver: a pool for the target's service, whose fit endpoints are handed to
 * grpc-js whenever they change (DNS answers, health checks, panic mode). grpc-js's load balancer
 * then keeps one subchannel per endpoint and balances calls over them; an endpoint that stays in
 * the list keeps its connection, so an update never breaks one.
 *
 * grpc-js calls `destroy()` when the channel goes idle or closes, and `updateResolution()` again
 * when it leaves idle: the pool lives between the two, so an idle channel holds no timer and
 * sends no DNS query.
 */
export class HeadlessResolver {
  readonly #context: ResolverContext
  readonly #target: GrpcTarget
  readonly #listener: GrpcResolverListener
  readonly #serviceConfig: GrpcServiceConfig | null
  #pool: Pool | undefined
  /** Bumped by destroy(): callbacks of an earlier pool see a stale value and do nothing. */
  #generation = 0
  /** The pool has had a first answer: until then an empty set means "not known yet". */
  #resolved = false
  #pushScheduled = false
  /** The last list grpc-js accepted, as a comparable key (undefined: none, or it was refused). */
  #lastKey: string | undefined

  readonly #onPoolChange = (): void => {
    this.#resolved = true
    this.#schedulePush()
  }
  readonly #onPoolHealth = (): void => this.#schedulePush()
  readonly #onPoolError = (error: Error): void => this.#context.track.error(error)

  constructor(
    target: GrpcUri,
    listener: GrpcResolverListener,
    channelOptions: Record<string, unknown>,
    context: ResolverContext,
  ) {
    this.#context = context
    this.#target = parseGrpcTarget(target, context.scheme)
    this.#listener = listener
    const own =
      channelOptions['grpc.service_config'] !== undefined ||
      channelOptions['grpc.service_config_disable_resolution'] === 1
    this.#serviceConfig = own ? null : ROUND_ROBIN
  }

  /** grpc-js wants fresh addresses (first use, leaving idle, a lost connection): ask DNS, rate-limited. */
  updateResolution(): void {
    const pool = this.#pool
    if (pool === undefined) {
      this.#start()
      return
    }
    // Rate-limited by the pool's discovery (minRefresh, and not while backing off after errors).
    pool.refresh()
    if (this.#resolved && this.#lastKey === undefined) this.#schedulePush()
  }

  /** Closes the pool (its timers, queries and checks); `updateResolution()` starts a new one. */
  destroy(): void {
    const pool = this.#pool
    if (pool === undefined) return
    this.#generation++
    this.#pool = undefined
    this.#resolved = false
    this.#lastKey = undefined
    pool.off('change', this.#onPoolChange)
    pool.off('health', this.#onPoolHealth)
    pool.off('panic', this.#onPoolHealth)
    pool.off('error', this.#onPoolError)
    this.#context.track.closed(pool)
    pool
      .close()
      .catch((error: unknown) => debug('closing the pool of %s failed: %s', this.#target.text, error))
  }

  #start(): void {
    const target = this.#target
    const options: Record<string, unknown> = { ...this.#context.poolOptions, service: target.service }
    if (target.port !== undefined) options.port = target.port
    else options.portName = target.portName
    if (target.dnsServer !== undefined) {
      options.dns = { ...(options.dns as Record<string, unknown> | undefined), servers: [target.dnsServer] }
    }
    let pool: Pool
    try {
      pool = createPool(options as unknown as PoolOptions, this.#context.poolInternals)
    } catch (error) {
      // The options were validated at registration and the target by getDefaultAuthority: this is
      // a combination only the target shows (a short name with no search list...).
      this.#pushError(`${target.text}: ${(error as Error).message}`)
      return
    }
    this.#pool = pool
    const generation = this.#generation
    pool.on('change', this.#onPoolChange)
    pool.on('health', this.#onPoolHealth)
    pool.on('panic', this.#onPoolHealth)
    pool.on('error', this.#onPoolError)
    this.#context.track.opened(pool)
    const resolved = (): void => {
      if (generation !== this.#generation) return
      this.#resolved = true
      this.#schedulePush()
    }
    pool.ready().then(resolved, (error: unknown) => {
      if (generation !== this.#generation) return
      // No answer in readyTimeout: calls fail UNAVAILABLE with the reason meanwhile, and the pool
      // keeps trying (with backoff); its first answer is handed over as usual.
      this.#pushError(`${target.text}: ${(error as Error).message}`)
      pool.ready({ timeout: Number.POSITIVE_INFINITY }).then(resolved, () => {})
    })
  }

  /** Coalesces a burst of events (several health changes at once) into one list, never synchronously. */
  #schedulePush(): void {
    if (this.#pushScheduled || !this.#resolved) return
    this.#pushScheduled = true
    const generation = this.#generation
    queueMicrotask(() => {
      this.#pushScheduled = false
      if (generation === this.#generation) this.#push()
    })
  }

  #push(): void {
    const pool = this.#pool
    if (pool === undefined) return
    const stats = pool.stats()
    // What the pool would route to: fit endpoints, or in panic mode every checked one.
    const fit: Endpoint[] = []
    for (const s of stats.endpoints) {
      if (s.state === 'healthy' || s.state === 'probation' || (stats.panic && s.state !== 'pending')) {
        fit.push(s.endpoint)
      }
    }
    const note =
      fit.length > 0
        ? ''
        : stats.endpoints.length === 0
          ? `headless-lb: DNS lists no ready pod of ${this.#target.service} (no records: NXDOMAIN or an empty answer)`
          : `headless-lb: none of the ${stats.endpoints.length} endpoints of ${this.#target.service} is fit (${stats.endpoints.map((s) => `${describeEndpoint(s.endpoint)} ${s.state}`).join(', ')})`
    const endpoints: GrpcEndpoint[] = fit.map((e) => ({ addresses: [{ host: e.address, port: e.port }] }))
    const key = `${endpoints
      .map((e) => `${e.addresses[0]!.host}|${e.addresses[0]!.port}`)
      .sort()
      .join(',')}#${note}`
    if (key === this.#lastKey) return
    let accepted = true
    const listener = this.#listener
    const config = this.#serviceConfig
    if (typeof listener === 'function') {
      accepted = listener(
        { ok: true, value: endpoints },
        {},
        config === null ? null : { ok: true, value: config },
        note,
      )
    } else listener.onSuccessfulResolution(endpoints, config, null, null, {})
    if (endpoints.length === 0) {
      // An empty list alone drops the old subchannels, but grpc-js 1.14's round_robin then goes
      // IDLE and queues calls until their deadline. A resolution error right after, with no
      // subchannel left, puts the channel in TRANSIENT_FAILURE: calls fail at once, UNAVAILABLE
      // with the note, as they do when grpc-js's own dns resolver gets NXDOMAIN.
      this.#reportError(note)
    }
    // A refused list (grpc-js could not use the service config) is offered again on the next event.
    this.#lastKey = accepted === false ? undefined : key
    debug(
      '%s -> %s%s',
      this.#target.text,
      fit.map(describeEndpoint).join(', ') || '(none)',
      note ? `: ${note}` : '',
    )
    this.#context.track.update(this.#target, fit, note)
  }

  #pushError(details: string): void {
    const generation = this.#generation
    // Never synchronously with updateResolution (the Resolver contract).
    queueMicrotask(() => {
      if (generation !== this.#generation) return
      this.#lastKey = undefined
      this.#reportError(`headless-lb: ${details}`)
      debug('%s: %s', this.#target.text, details)
    })
  }

  #reportError(details: string): void {
    const error: GrpcStatusObject = {
      code: UNAVAILABLE,
      details,
      metadata: new this.#context.grpc.Metadata(),
    }
    const listener = this.#listener
    if (typeof listener === 'function') listener({ ok: false, error }, {}, null, '')
    else listener.onError(error)
  }
}

/** The class grpc-js registers for the scheme: HeadlessResolver bound to one registration's context. */
export function createResolverClass(context: ResolverContext): GrpcResolverConstructor {
  return class RegisteredHeadlessResolver extends HeadlessResolver {
    constructor(target: GrpcUri, listener: GrpcResolverListener, channelOptions: Record<string, unknown>) {
      super(target, listener, channelOptions, context)
    }

    /** grpc-js calls this when a channel is made: a bad target throws there, at `new Client(...)`. */
    static getDefaultAuthority(target: GrpcUri): string {
      return parseGrpcTarget(target, context.scheme).authority
    }
  }
}
