import { EventEmitter } from 'node:events'
import { debuglog } from 'node:util'
import type { Endpoint, EndpointChange } from '../endpoint.js'
import { ClosedError, ResolutionError } from '../errors.js'
import { Backoff } from '../internal/backoff.js'
import type { Clock } from '../internal/clock.js'
import { booleanOption, invalidType, outOfRange } from '../options.js'
import type { NormalizedDiscoveryOptions } from './discovery-options.js'
import { DnsQueryError } from './dns-client.js'
import { EndpointSet } from './endpoint-set.js'
import type {
  EndpointSource,
  EndpointSourceEvents,
  ReadyOptions,
  ResolutionEvent,
} from './endpoint-source.js'
import type { EndpointResolver, Resolution, ResolutionProblem } from './resolve-endpoints.js'

const debug = debuglog('headless-lb')

/** TTL assumed for an empty answer (which carries none): the CoreDNS kubernetes plugin's default. */
const EMPTY_ANSWER_TTL = 5
/** Refresh delays are spread over this share of the interval, so a fleet does not query in lockstep. */
const REFRESH_JITTER = 0.1

interface Waiter {
  readonly allowEmpty: boolean
  resolve(): void
  reject(error: Error): void
}

/**
 * A live endpoint set fed by DNS. Re-resolves when the answer's TTL runs out (clamped to
 * [minRefresh, maxRefresh], with jitter), keeps the last good set through DNS failures
 * (stale-if-error, backing off exponentially), and empties the set only when two answers in a
 * row say the service has no ready pods.
 */
export class DnsEndpointSource extends EventEmitter<EndpointSourceEvents> implements EndpointSource {
  readonly #options: NormalizedDiscoveryOptions
  readonly #resolver: EndpointResolver
  readonly #clock: Clock
  readonly #random: () => number
  readonly #cancel: () => void
  readonly #set = new EndpointSet()
  readonly #backoff: Backoff
  readonly #waiters = new Set<Waiter>()
  #timer: unknown
  #nextRunAt = Number.POSITIVE_INFINITY
  #inFlight: Promise<void> | undefined
  #lastQueryAt = Number.NEGATIVE_INFINITY
  #lastTtl: number | undefined
  #resolved = false
  #stale = false
  #emptySeen = false
  #lastError: ResolutionError | undefined
  #answeredAt: number | undefined
  /** The last answer's empty query and code while the set is empty: what ready() tells on timeout. */
  #lastEmpty: { readonly query: string; readonly code: string } | undefined
  #closed = false

  constructor(
    options: NormalizedDiscoveryOptions,
    resolver: EndpointResolver,
    deps: { clock: Clock; random: () => number; cancel: () => void },
  ) {
    super()
    this.#options = options
    this.#resolver = resolver
    this.#clock = deps.clock
    this.#random = deps.random
    this.#cancel = deps.cancel
    this.#backoff = new Backoff({ initial: options.minRefresh, max: options.maxRefresh, random: deps.random })
    this.#run()
  }

  get endpoints(): ReadonlyArray<Endpoint> {
    return this.#set.endpoints
  }

  get stale(): boolean {
    return this.#stale
  }

  /** Clock time (ms) of the last answer (endpoints or "no ready pods"); undefined before the first. */
  get answeredAt(): number | undefined {
    return this.#answeredAt
  }

  /** The last resolution error, kept until a resolution succeeds. */
  get lastError(): ResolutionError | undefined {
    return this.#lastError
  }

  ready(options: ReadyOptions = {}): Promise<void> {
    if (this.#closed) return Promise.reject(new ClosedError('Endpoint source', this.#options.service))
    const timeout = options.timeout ?? this.#options.readyTimeout
    // Infinity is allowed (the signal alone decides); NaN or a string would make a 1 ms timer.
    if (typeof timeout !== 'number' || Number.isNaN(timeout)) {
      return Promise.reject(invalidType('ready options.timeout', 'a number of milliseconds >= 0', timeout))
    }
    if (timeout < 0) {
      return Promise.reject(outOfRange('ready options.timeout', 'a number of milliseconds >= 0', timeout))
    }
    let allowEmpty: boolean
    try {
      allowEmpty = booleanOption('ready options.allowEmpty', options.allowEmpty, false)
    } catch (error) {
      return Promise.reject(error)
    }
    if (this.#set.size > 0 || (allowEmpty && this.#resolved)) return Promise.resolve()
    const { signal } = options
    return new Promise<void>((resolve, reject) => {
      let timer: unknown
      const fail = (why: string, cause: unknown): void => {
        const last = this.#lastError
        const empty = this.#lastEmpty
        if (last === undefined && empty !== undefined) {
          // DNS answered, with no endpoint: NXDOMAIN is what both a service without ready pods
          // and a misspelt one give, so the message names both.
          reject(
            new ResolutionError(
              `${this.#options.service} has no endpoint ${why}: no ready pods, or no such service (${empty.query} gave ${empty.code})`,
              { service: this.#options.service, query: empty.query, dnsCode: empty.code, cause },
            ),
          )
          return
        }
        reject(
          new ResolutionError(
            `${this.#options.service} was not resolved ${why}${last ? `: ${last.query} failed with ${last.dnsCode}` : ''}`,
            {
              service: this.#options.service,
              query: last?.query ?? this.#resolver.firstQuery,
              dnsCode: last?.dnsCode ?? (cause === undefined ? 'ETIMEOUT' : undefined),
              cause: last ?? cause,
            },
          ),
        )
      }
      const onAbort = (): void => {
        settle()
        fail('before the signal aborted', signal?.reason)
      }
      const settle = (): void => {
        this.#waiters.delete(waiter)
        this.#clock.clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
      }
      const waiter: Waiter = {
        allowEmpty,
        resolve: () => {
          settle()
          resolve()
        },
        reject: (error) => {
          settle()
          reject(error)
        },
      }
      if (signal?.aborted) {
        onAbort()
        return
      }
      this.#waiters.add(waiter)
      signal?.addEventListener('abort', onAbort, { once: true })
      // The one ref'd timer: someone awaits this answer, so the process must live to give it,
      // as a pending socket read would keep it. It is bounded by `timeout` and cleared when settled.
      timer = this.#clock.setTimeout(
        () => {
          settle()
          fail(`within ${timeout} ms`, undefined)
        },
        timeout,
        { ref: true },
      )
    })
  }

  refresh(): void {
    if (this.#closed) throw new ClosedError('Endpoint source', this.#options.service)
    // An answer is on its way: it is as fresh as a new query would be.
    if (this.#inFlight) return
    // Backing off after DNS errors: a refused connect says nothing about DNS having recovered, and
    // a fleet of clients asking every minRefresh would defeat the backoff (grpc-js defers too).
    if (this.#lastError !== undefined) return
    const earliest = this.#lastQueryAt + this.#options.minRefresh
    if (this.#nextRunAt <= earliest) return
    this.#schedule(Math.max(0, earliest - this.#clock.now()))
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#clock.clearTimeout(this.#timer)
    this.#timer = undefined
    this.#cancel()
    for (const waiter of [...this.#waiters]) {
      waiter.reject(new ClosedError('Endpoint source', this.#options.service))
    }
    await this.#inFlight
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  #schedule(delay: number): void {
    this.#clock.clearTimeout(this.#timer)
    this.#nextRunAt = this.#clock.now() + delay
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined
      this.#nextRunAt = Number.POSITIVE_INFINITY
      this.#run()
    }, delay)
  }

  #run(): void {
    if (this.#closed || this.#inFlight) return
    this.#lastQueryAt = this.#clock.now()
    this.#inFlight = this.#resolver.resolve().then(
      (resolution) => this.#settle(() => this.#onResolution(resolution)),
      (error: unknown) => this.#settle(() => this.#onError(error)),
    )
  }

  #settle(handle: () => void): void {
    this.#inFlight = undefined
    if (this.#closed) return
    try {
      handle()
    } catch (error) {
      // A throwing listener is the caller's bug: surface it as an emitter driven by I/O would
      // (an uncaught exception), not as a rejection of our internal promise, which close() awaits.
      process.nextTick(() => {
        throw error
      })
    }
  }

  #onResolution(resolution: Resolution): void {
    if (resolution.endpoints.length === 0 && this.#set.size > 0 && !this.#emptySeen) {
      // One empty answer could be a DNS server that lost its data for a moment; the spec reads
      // it as "no ready pods", so we believe it once a second answer says the same.
      debug('%s: empty answer (%s), confirming', this.#options.service, resolution.empty?.code)
      this.#emptySeen = true
      this.#afterAnswer()
      this.#schedule(this.#options.minRefresh)
      this.#emitResolution('empty', undefined)
      return
    }
    this.#emptySeen = false
    const problems = resolution.problems
    // A partial answer (an SRV target failed) is no recovery: its retry keeps backing off.
    if (problems?.some((p) => p.code !== undefined)) {
      this.#stale = false
      this.#lastError = undefined
    } else this.#afterAnswer()
    if (resolution.endpoints.length > 0) this.#lastTtl = resolution.ttl
    this.#lastEmpty = resolution.endpoints.length === 0 ? resolution.empty : undefined
    const change = this.#set.apply(resolution.endpoints)
    this.#markResolved()
    // Scheduled before emitting, so a throwing listener cannot stop the refresh loop. A failed
    // target is asked again on the backoff schedule if that comes before the TTL.
    let delay = this.#refreshDelay(resolution.ttl ?? this.#lastTtl ?? EMPTY_ANSWER_TTL)
    if (problems?.some((p) => p.code !== undefined)) delay = Math.min(delay, this.#backoff.nextDelay())
    this.#schedule(delay)
    if (change) this.#emitChange(change)
    if (problems !== undefined) for (const problem of problems) this.#reportProblem(problem)
    this.#emitResolution(resolution.endpoints.length > 0 ? 'answer' : 'empty', undefined)
  }

  /** Once per resolution, after any `change`: only built when someone listens (metrics do). */
  #emitResolution(outcome: ResolutionEvent['outcome'], error: Error | undefined): void {
    if (this.listenerCount('resolution') === 0) return
    const endpoints = this.#set.size
    this.emit('resolution', error === undefined ? { outcome, endpoints } : { outcome, endpoints, error })
  }

  #reportProblem(problem: ResolutionProblem): void {
    const service = this.#options.service
    const error = new ResolutionError(`Resolving ${service}: ${problem.message}`, {
      service,
      query: problem.query,
      dnsCode: problem.code,
      cause: problem.cause,
    })
    debug('%s', error.message)
    if (this.listenerCount('error') > 0) this.emit('error', error)
  }

  #afterAnswer(): void {
    this.#answeredAt = this.#clock.now()
    this.#backoff.reset()
    this.#stale = false
    this.#lastError = undefined
  }

  #onError(error: unknown): void {
    const service = this.#options.service
    const resolutionError =
      error instanceof DnsQueryError
        ? new ResolutionError(`Resolving ${service} failed: ${error.query} gave ${error.code}`, {
            service,
            query: error.query,
            dnsCode: error.code,
            cause: error,
          })
        : new ResolutionError(`Resolving ${service} failed: ${(error as Error)?.message ?? String(error)}`, {
            service,
            query: this.#resolver.firstQuery,
            cause: error,
          })
    this.#lastError = resolutionError
    // Stale-if-error: the last good set stays; the flag tells the layers above it is aging.
    if (this.#resolved) this.#stale = true
    const delay = this.#backoff.nextDelay()
    debug('%s: %s; retrying in %d ms', service, resolutionError.message, Math.round(delay))
    this.#schedule(delay)
    // 'error' without a listener would throw from EventEmitter; a resolution problem must never
    // crash the caller's process, so without a listener it only goes to the debug log.
    if (this.listenerCount('error') > 0) this.emit('error', resolutionError)
    this.#emitResolution('error', resolutionError)
  }

  #emitChange(change: EndpointChange): void {
    debug(
      '%s: +%d -%d ~%d -> %d endpoints',
      this.#options.service,
      change.added.length,
      change.removed.length,
      change.updated.length,
      change.endpoints.length,
    )
    this.emit('change', change)
  }

  /** After an answer: wakes the waiters it satisfies (all of them once there is an endpoint). */
  #markResolved(): void {
    this.#resolved = true
    if (this.#waiters.size === 0) return
    const hasEndpoints = this.#set.size > 0
    for (const waiter of [...this.#waiters]) if (hasEndpoints || waiter.allowEmpty) waiter.resolve()
  }

  /** TTL in seconds -> next refresh in ms: clamped to [minRefresh, maxRefresh], spread by jitter. */
  #refreshDelay(ttl: number): number {
    const { minRefresh, maxRefresh } = this.#options
    const base = Math.min(maxRefresh, Math.max(minRefresh, ttl * 1000))
    const spread = base * REFRESH_JITTER * this.#random()
    // Early rather than late, so a set never lags DNS by more than the TTL; at the floor, late.
    return base === minRefresh ? base + spread : Math.max(minRefresh, base - spread)
  }
}
