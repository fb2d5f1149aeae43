import type { ConnectionOptions } from 'node:tls'
import type { ReadPreference } from '../lease.js'
import { type MeterProviderLike, meterProviderOption } from '../metrics/meter-provider.js'
import {
  booleanOption,
  durationMs,
  integerIn,
  invalidType,
  keysOf,
  numberIn,
  oneOf,
  optionPath,
  outOfRange,
  rejectUnknownKeys,
  requireObject,
} from '../options.js'
import type { LeasePool } from './lease-pool.js'

/** RFC 9110 section 9.2.2: methods whose intended effect is the same however often they are sent. */
export const IDEMPOTENT_METHODS: ReadonlyArray<string> = ['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']

/** Methods that only read (RFC 9110 section 9.2.1 "safe"): routed by `readPreference` when routing by method. */
export const READ_METHODS: ReadonlyArray<string> = ['GET', 'HEAD', 'OPTIONS', 'TRACE']

export interface RetryBudgetOptions {
  /** Share of recent requests that may be retries (Finagle's `percentCanRetry`, Envoy's `budget_percent`). Default 0.2. */
  ratio?: number
  /** Retries always allowed per second, so that a quiet client can still retry. Default 10 (Finagle's default). */
  minPerSecond?: number
  /** How far back "recent" goes, ms. Default 10_000 (Finagle's TTL). */
  window?: number
}

/**
 * How failed attempts are retried. The retry policy (`RetryPolicy`, src/http/retry-policy.ts) is
 * the only owner of the retry count, the backoff and the budget; the backoff options keep the
 * names and formula of p-retry, which this package no longer uses.
 */
export interface RetryOptions {
  /** Retries after the first attempt. Default 2. 0 disables retries. */
  retries?: number
  /** Methods retried after the request may have reached a server (reset, timeout, retryable status). Default RFC 9110's idempotent methods. */
  methods?: ReadonlyArray<string>
  /** Response statuses retried for those methods. Default [502, 503, 504]. */
  statusCodes?: ReadonlyArray<number>
  /** Also retry idempotent requests after a reset connection. Default true. */
  onReset?: boolean
  /** Also retry idempotent requests after a headers timeout. Default true. */
  onTimeout?: boolean
  /** Backoff before the first retry, ms. Default 25 (Envoy's base interval): the retry goes to another pod. */
  minTimeout?: number
  /** Upper bound of a backoff, ms. Default 250 (10 x the base, as Envoy). */
  maxTimeout?: number
  /** Backoff growth per retry. Default 2. */
  factor?: number
  /** Jitter: multiply each backoff by a random factor in [1, 2). Default true. */
  randomize?: boolean
  /** Longest `Retry-After` honoured, ms; a response asking for longer is returned to the caller instead of retried. Default 1_000. */
  maxRetryAfter?: number
  /** The retry budget, or `false` for none. */
  budget?: RetryBudgetOptions | false
}

/**
 * Hedged requests (gRPC's `hedgingPolicy`, Finagle's `BackupRequestFilter`, "The Tail at Scale"):
 * when an idempotent request with a replayable body has no answer after `delay`, the same request
 * also goes to another endpoint; the first response wins and the other attempt is cancelled.
 */
export interface HedgeOptions {
  /** Attempts in all, the first one included (gRPC's `maxAttempts`, capped at 5 as gRPC does). Default 2. */
  maxAttempts?: number
  /**
   * How long to wait for an answer before sending the next attempt: milliseconds, or a percentile
   * of this client's recent attempt latencies (`'p95'`, `'p99'`, `'p99.9'`: time to the response
   * headers, over the last 10 s). Default `'p99'`: about 1 % of the requests of a healthy service
   * get a hedge, Finagle's `BackupRequestFilter` default (`maxExtraLoad` 1 %). Dean and Barroso's
   * p95 sent 3-8x more hedges in bench/hedging.ts for no better p99 (docs/performance.md).
   */
  delay?: number | `p${number}`
  /** Floor under a percentile delay, ms (Finagle's `minSendBackupAfterMs`). Default 1. Only with a percentile `delay`. */
  minDelay?: number
}

export interface TimeoutOptions {
  /** TCP (and TLS) connect timeout, ms. Default 1_000: a vanished pod's IP usually black-holes, and undici's 10 s would stall every request queued behind it. */
  connect?: number
  /** Time to receive the response headers, ms (undici `headersTimeout`). Default 10_000. */
  headers?: number
  /**
   * Longest pause between two body chunks, ms (undici `bodyTimeout`). Default 10_000, the same
   * as `headers`: undici re-arms a connection's timer (a new timer object, kept until its next
   * tick, so promoted by the GC) whenever the next timeout's value differs from the last one, one
   * or two times per request (docs/performance.md). Raise it for streams with long pauses (SSE).
   */
  body?: number
}

/** Options of the HTTP layer, shared by `createClient` and `HeadlessAgent`. */
export interface HttpOptions {
  retry?: RetryOptions
  timeouts?: TimeoutOptions
  /** Connections per endpoint (undici Pool `connections`). Default 16. */
  connections?: number
  /** Requests pipelined per connection (undici `pipelining`). Default 1 (no pipelining). */
  pipelining?: number
  /** Idle keep-alive time of a connection, ms (undici `keepAliveTimeout`). Default 4_000. */
  keepAliveTimeout?: number
  /**
   * Offer HTTP/2 through ALPN on `https:` origins (undici `allowH2`). Default true, undici 8's
   * default: a pod that prefers h2 gets one multiplexed session per pod, and every request is
   * still balanced on its own (docs/http.md, "HTTP/2"). false: HTTP/1.1 only.
   */
  allowH2?: boolean
  /**
   * Speak cleartext HTTP/2 (h2c, prior knowledge: no upgrade, no ALPN) to `http:` origins
   * (undici `useH2c`). Default false. Every pod of the service must speak h2c.
   */
  h2c?: boolean
  /** TLS options for `https:` origins (`ca`, `cert`, `key`, `rejectUnauthorized`...). `servername` defaults to the logical host name. */
  tls?: ConnectionOptions
  /**
   * Route requests by method: reads (GET, HEAD, OPTIONS, TRACE) follow `readPreference`, everything else goes to
   * the primary. Default: true when the pool options configure a `primary`, else false (every request: any endpoint).
   */
  routeByMethod?: boolean
  /** Where reads go when routing by method. Default `'replicaPreferred'`. */
  readPreference?: ReadPreference
  /**
   * Where the HTTP and pool metrics go (docs/observability.md). Default: the MeterProvider
   * registered with `@opentelemetry/api`, if any; without one nothing is recorded. `false`: none.
   */
  meterProvider?: MeterProviderLike | false
  /** Hedged requests: `true` for the defaults, or options. Default off. */
  hedge?: boolean | HedgeOptions
}

/** `hedge` resolved: `delay` in ms, or -1 with `percentile` (0 to 1) for a measured one. */
export interface ResolvedHedgeOptions {
  readonly maxAttempts: number
  readonly delay: number
  readonly percentile: number
  readonly minDelay: number
}

export interface ResolvedHttpOptions {
  readonly retries: number
  readonly retryMethods: ReadonlySet<string>
  readonly retryStatusCodes: ReadonlySet<number>
  readonly retryOnReset: boolean
  readonly retryOnTimeout: boolean
  readonly retryMinTimeout: number
  readonly retryMaxTimeout: number
  readonly factor: number
  readonly randomize: boolean
  readonly maxRetryAfter: number
  readonly budget: { readonly ratio: number; readonly minPerSecond: number; readonly window: number } | false
  readonly connectTimeout: number
  readonly headersTimeout: number
  readonly bodyTimeout: number
  readonly connections: number
  readonly pipelining: number
  readonly keepAliveTimeout: number
  readonly allowH2: boolean
  readonly h2c: boolean
  readonly tls: ConnectionOptions | undefined
  readonly routeByMethod: boolean
  readonly readPreference: ReadPreference
  readonly meterProvider: MeterProviderLike | false | undefined
  readonly hedge: ResolvedHedgeOptions | false
}

/** Every key of {@link HttpOptions} (checked complete by the compiler). */
export const HTTP_OPTION_KEYS: ReadonlyArray<keyof HttpOptions> = keysOf<HttpOptions>({
  retry: true,
  timeouts: true,
  connections: true,
  pipelining: true,
  keepAliveTimeout: true,
  allowH2: true,
  h2c: true,
  tls: true,
  routeByMethod: true,
  readPreference: true,
  meterProvider: true,
  hedge: true,
})

/** Every key of {@link RetryOptions} (checked complete by the compiler). */
const RETRY_KEYS = keysOf<RetryOptions>({
  retries: true,
  methods: true,
  statusCodes: true,
  onReset: true,
  onTimeout: true,
  minTimeout: true,
  maxTimeout: true,
  factor: true,
  randomize: true,
  maxRetryAfter: true,
  budget: true,
})
/** Every key of {@link HedgeOptions} (checked complete by the compiler). */
const HEDGE_KEYS = keysOf<HedgeOptions>({
  maxAttempts: true,
  delay: true,
  minDelay: true,
})
/** Every key of {@link RetryBudgetOptions} (checked complete by the compiler). */
const BUDGET_KEYS = keysOf<RetryBudgetOptions>({
  ratio: true,
  minPerSecond: true,
  window: true,
})
/** Every key of {@link TimeoutOptions} (checked complete by the compiler). */
const TIMEOUT_KEYS = keysOf<TimeoutOptions>({
  connect: true,
  headers: true,
  body: true,
})
const READ_PREFERENCES: ReadonlyArray<ReadPreference> = [
  'primary',
  'primaryPreferred',
  'replica',
  'replicaPreferred',
  'nearest',
]

/**
 * Validates and fills in the HTTP options. `path` is the path of the object holding them
 * (`''` for createClient, `services["web..."]` for an agent's service); `primaryConfigured` gives the
 * default of `routeByMethod`, and undefined when it cannot be known (a pool made elsewhere).
 */
export function resolveHttpOptions(
  options: HttpOptions,
  path: string,
  primaryConfigured: boolean | undefined,
): ResolvedHttpOptions {
  const at = (key: string) => optionPath(path, key)
  if (primaryConfigured === false) {
    // Without a primary option no endpoint ever has a role: routing writes to the primary or
    // reads by preference would fail every request (NoPrimaryError / NoEndpointsError).
    const hint =
      'Routing by role needs the pool to know roles: set primary ({ ordinal }, { name } or { probe }), or leave this out'
    if (options.routeByMethod === true) {
      throw invalidType(at('routeByMethod'), 'false or absent when no primary option is set', true, hint)
    }
    if (options.readPreference !== undefined) {
      throw invalidType(
        at('readPreference'),
        'absent when no primary option is set',
        options.readPreference,
        hint,
      )
    }
  }
  const retry = options.retry === undefined ? {} : requireObject(at('retry'), options.retry)
  rejectUnknownKeys(at('retry'), retry, RETRY_KEYS)
  const timeouts = options.timeouts === undefined ? {} : requireObject(at('timeouts'), options.timeouts)
  rejectUnknownKeys(at('timeouts'), timeouts, TIMEOUT_KEYS)

  const methods = stringList(at('retry.methods'), retry.methods, IDEMPOTENT_METHODS).map((m) =>
    m.toUpperCase(),
  )
  const statusCodes = numberList(at('retry.statusCodes'), retry.statusCodes, [502, 503, 504])
  const minTimeout = durationMs(at('retry.minTimeout'), retry.minTimeout, 25)
  const maxTimeout = durationMs(at('retry.maxTimeout'), retry.maxTimeout, Math.max(250, minTimeout))
  if (maxTimeout < minTimeout) {
    throw outOfRange(at('retry.maxTimeout'), `>= ${at('retry.minTimeout')} (${minTimeout})`, maxTimeout)
  }

  let budget: ResolvedHttpOptions['budget']
  if (retry.budget === false) {
    budget = false
  } else {
    const b = retry.budget === undefined ? {} : requireObject(at('retry.budget'), retry.budget)
    rejectUnknownKeys(at('retry.budget'), b, BUDGET_KEYS)
    budget = {
      ratio: numberIn(at('retry.budget.ratio'), b.ratio, 0.2, 0, 1),
      minPerSecond: numberIn(at('retry.budget.minPerSecond'), b.minPerSecond, 10, 0, 1_000_000),
      window: durationMs(at('retry.budget.window'), b.window, 10_000, 1_000),
    }
  }

  if (options.tls !== undefined) requireObject(at('tls'), options.tls)

  return {
    retries: integerIn(at('retry.retries'), retry.retries, 2, 0, 100),
    retryMethods: new Set(methods),
    retryStatusCodes: new Set(statusCodes),
    retryOnReset: booleanOption(at('retry.onReset'), retry.onReset, true),
    retryOnTimeout: booleanOption(at('retry.onTimeout'), retry.onTimeout, true),
    retryMinTimeout: minTimeout,
    retryMaxTimeout: maxTimeout,
    factor: numberIn(at('retry.factor'), retry.factor, 2, 1, 100),
    randomize: booleanOption(at('retry.randomize'), retry.randomize, true),
    maxRetryAfter: durationMs(at('retry.maxRetryAfter'), retry.maxRetryAfter, 1_000),
    budget,
    connectTimeout: durationMs(at('timeouts.connect'), timeouts.connect, 1_000, 1),
    headersTimeout: durationMs(at('timeouts.headers'), timeouts.headers, 10_000, 0),
    bodyTimeout: durationMs(at('timeouts.body'), timeouts.body, 10_000, 0),
    connections: integerIn(at('connections'), options.connections, 16, 1, 65_536),
    pipelining: integerIn(at('pipelining'), options.pipelining, 1, 1, 1_000),
    keepAliveTimeout: durationMs(at('keepAliveTimeout'), options.keepAliveTimeout, 4_000, 1),
    allowH2: booleanOption(at('allowH2'), options.allowH2, true),
    h2c: booleanOption(at('h2c'), options.h2c, false),
    tls: options.tls,
    routeByMethod: booleanOption(at('routeByMethod'), options.routeByMethod, primaryConfigured ?? false),
    readPreference: oneOf(at('readPreference'), options.readPreference, READ_PREFERENCES, 'replicaPreferred'),
    meterProvider: meterProviderOption(at('meterProvider'), options.meterProvider),
    hedge: resolveHedgeOptions(at('hedge'), options.hedge),
  }
}

const PERCENTILE = /^p(\d{1,2}(?:\.\d+)?)$/

function resolveHedgeOptions(path: string, value: unknown): ResolvedHedgeOptions | false {
  if (value === undefined || value === false) return false
  if (value !== true && (typeof value !== 'object' || value === null || Array.isArray(value))) {
    throw invalidType(path, 'true, false or an object ({ maxAttempts, delay, minDelay })', value)
  }
  const hedge = value === true ? {} : (value as Record<string, unknown>)
  rejectUnknownKeys(path, hedge, HEDGE_KEYS)
  const maxAttempts = integerIn(`${path}.maxAttempts`, hedge.maxAttempts, 2, 2, 5)
  const delay = hedge.delay ?? 'p99'
  if (typeof delay === 'number') {
    if (hedge.minDelay !== undefined) {
      throw invalidType(
        `${path}.minDelay`,
        'absent with a fixed delay',
        hedge.minDelay,
        `It is the floor under a percentile delay (delay: 'p99'); ${path}.delay is ${delay} ms`,
      )
    }
    return { maxAttempts, delay: durationMs(`${path}.delay`, delay, 0), percentile: 0, minDelay: 0 }
  }
  const match = typeof delay === 'string' ? PERCENTILE.exec(delay) : null
  const percent = match === null ? Number.NaN : Number(match[1])
  if (!(percent > 0 && percent < 100)) {
    throw invalidType(
      `${path}.delay`,
      "a number of milliseconds or a percentile from 'p1' to 'p99.99' (such as 'p95')",
      delay,
    )
  }
  return {
    maxAttempts,
    delay: -1,
    percentile: percent / 100,
    minDelay: durationMs(`${path}.minDelay`, hedge.minDelay, 1, 0),
  }
}

function stringList(path: string, value: unknown, fallback: ReadonlyArray<string>): string[] {
  if (value === undefined) return [...fallback]
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || !/^[A-Za-z]+$/.test(v))) {
    throw invalidType(path, 'an array of HTTP method names', value)
  }
  return value as string[]
}

function numberList(path: string, value: unknown, fallback: ReadonlyArray<number>): number[] {
  if (value === undefined) return [...fallback]
  if (!Array.isArray(value) || value.some((v) => !Number.isInteger(v) || v < 100 || v > 599)) {
    throw invalidType(path, 'an array of HTTP status codes (100-599)', value)
  }
  return value as number[]
}

/** Options of a request beyond undici's: where it should go. */
export interface RouteOptions {
  /** `'primary' | 'replica' | 'any'`, or a read preference. Overrides the method-based default. */
  route?: 'primary' | 'replica' | 'any' | ReadPreference
  /** Consistent-hash key (with `balancer: 'consistent-hash'`). */
  key?: string
}

export const ROUTES: ReadonlyArray<string> = [
  'primary',
  'replica',
  'any',
  'primaryPreferred',
  'replicaPreferred',
  'nearest',
]

/** createClient's options that are not the pool's: everything else is handed to `createPool`. */
export interface ClientOwnOptions extends HttpOptions {
  /** `http://host[:port]` or `https://host[:port]`: the service name (or a pod's stable name) and port. */
  origin: string | URL
  /** Use this pool instead of creating one (the client then does not close it). */
  pool?: LeasePool
}

export function isPrimaryConfigured(poolOptions: Record<string, unknown>): boolean {
  return poolOptions.primary !== undefined
}
