import type { Endpoint } from '../endpoint.js'
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

/** A custom active check: resolve `true` when the endpoint is fit. A rejection counts as a failed check. */
export type HealthCheckFunction = (endpoint: Endpoint, signal: AbortSignal) => Promise<boolean>

export interface HttpHealthCheckOptions {
  /** Request path. Default `/healthz`. */
  path?: string
  /** Expected status: one code, or an inclusive `[min, max]` range. Default `[200, 399]` (as Kubernetes probes). */
  expectedStatus?: number | readonly [number, number]
  /** `Host` header. Default the endpoint's hostname, else its address. */
  host?: string
}

export interface HealthCheckOptions {
  /** HTTP GET check. */
  http?: HttpHealthCheckOptions
  /** TCP connect check: healthy when a connection opens. */
  tcp?: boolean
  /** Custom check. */
  check?: HealthCheckFunction
  /** Milliseconds between checks of one endpoint. Default 5_000. */
  interval?: number
  /** Milliseconds before a check counts as failed. Default 1_000. */
  timeout?: number
  /** Share of `interval` (0..1) added or removed at random so checks do not march in step. Default 0.1. */
  jitter?: number
  /** Consecutive passes that make an unhealthy endpoint healthy. Default 1 (Kubernetes `successThreshold`). */
  healthyThreshold?: number
  /** Consecutive failures that make a healthy endpoint unhealthy. Default 3 (Kubernetes `failureThreshold`). */
  unhealthyThreshold?: number
  /**
   * State of an endpoint before its first check: `healthy` (the default: DNS listing means the pod
   * passed its readiness probe) or `unhealthy` (no traffic before the first check passes).
   */
  initialState?: 'healthy' | 'unhealthy'
}

export interface OutlierDetectionOptions {
  /** Consecutive failed leases that eject an endpoint. Default 5 (Envoy's `consecutive_5xx`). */
  consecutiveFailures?: number
  /** A refused connect ejects at once (the pod is gone; DNS has not caught up). Default true. */
  ejectOnConnectRefused?: boolean
  /** First ejection's length; the n-th lasts `baseEjectionTime * 2^(n-1)`. Default 30_000 (Envoy). */
  baseEjectionTime?: number
  /** Cap on one ejection's length. Default 300_000 (Envoy). */
  maxEjectionTime?: number
  /** Share (0..1) of each ejection's length added at random, so ejected pods do not return together. Default 0.1. */
  jitter?: number
  /** At most this percentage of endpoints is ejected at once, but one may always be. Default 50. */
  maxEjectionPercent?: number
  /**
   * Milliseconds of probation after an ejection: traffic ramps from 10% to a full share, and a
   * single failure ejects again (for twice as long). 0 disables. Default 10_000.
   */
  probation?: number
}

export interface SlowStartOptions {
  /** Milliseconds over which an endpoint added after the first resolution ramps to a full share. */
  window: number
  /** Share an endpoint gets at the start of the ramp. Default 0.1 (Envoy's `min_weight_percent` 10). */
  minShare?: number
}

/** What every kind of check shares: its timing, thresholds and starting state. */
interface ResolvedCheckSchedule {
  readonly interval: number
  readonly timeout: number
  readonly jitter: number
  readonly healthyThreshold: number
  readonly unhealthyThreshold: number
  readonly initialState: 'healthy' | 'unhealthy'
}

/** What a check does, one shape per kind: no kind carries another's fields. */
type ResolvedCheckKind =
  | {
      readonly kind: 'http'
      readonly path: string
      readonly expectedStatus: readonly [number, number]
      readonly host: string | undefined
    }
  | { readonly kind: 'tcp' }
  | { readonly kind: 'custom'; readonly check: HealthCheckFunction }

/** `healthCheck` resolved: a union on `kind`, as `ResolvedPrimary` is. */
export type ResolvedHealthCheck = ResolvedCheckSchedule & ResolvedCheckKind

export interface ResolvedOutlierDetection {
  readonly enabled: boolean
  readonly consecutiveFailures: number
  readonly ejectOnConnectRefused: boolean
  readonly baseEjectionTime: number
  readonly maxEjectionTime: number
  readonly jitter: number
  readonly maxEjectionPercent: number
  readonly probation: number
}

export interface ResolvedSlowStart {
  readonly window: number
  readonly minShare: number
}

/** Every key of {@link HealthCheckOptions} (checked complete by the compiler). */
const HEALTH_CHECK_KEYS = keysOf<HealthCheckOptions>({
  http: true,
  tcp: true,
  check: true,
  interval: true,
  timeout: true,
  jitter: true,
  healthyThreshold: true,
  unhealthyThreshold: true,
  initialState: true,
})
/** Every key of {@link HttpHealthCheckOptions} (checked complete by the compiler). */
const HTTP_KEYS = keysOf<HttpHealthCheckOptions>({
  path: true,
  expectedStatus: true,
  host: true,
})
/** Every key of {@link OutlierDetectionOptions} (checked complete by the compiler). */
const OUTLIER_KEYS = keysOf<OutlierDetectionOptions>({
  consecutiveFailures: true,
  ejectOnConnectRefused: true,
  baseEjectionTime: true,
  maxEjectionTime: true,
  jitter: true,
  maxEjectionPercent: true,
  probation: true,
})

/** `healthCheck` accepts an options object or, as a shorthand, a custom check function. */
export function resolveHealthCheck(value: unknown, parent = ''): ResolvedHealthCheck | undefined {
  if (value === undefined || value === false) return undefined
  const path = optionPath(parent, 'healthCheck')
  const options: Record<string, unknown> =
    typeof value === 'function' ? { check: value } : requireObject(path, value)
  rejectUnknownKeys(path, options, HEALTH_CHECK_KEYS)
  const kinds = (['http', 'tcp', 'check'] as const).filter(
    (k) => options[k] !== undefined && options[k] !== false,
  )
  if (kinds.length !== 1) {
    throw invalidType(
      path,
      'an object with exactly one of http, tcp and check (or a check function)',
      value,
      kinds.length === 0 ? 'Say how to check: { http: { path } }, { tcp: true } or a function' : undefined,
    )
  }
  // The kind's own options first, then the schedule (the order mistakes are reported in).
  let kind: ResolvedCheckKind
  if (kinds[0] === 'http') {
    let httpPath = '/healthz'
    let expectedStatus: readonly [number, number] = [200, 399]
    let host: string | undefined
    const http = options.http === true ? {} : requireObject(`${path}.http`, options.http)
    rejectUnknownKeys(`${path}.http`, http, HTTP_KEYS)
    if (http.path !== undefined) {
      // A space or control character (CR/LF above all) would end the request line early: every
      // check would then fail and mark a sound pod unhealthy.
      if (typeof http.path !== 'string' || !http.path.startsWith('/') || hasSpaceOrControl(http.path)) {
        throw invalidType(
          `${path}.http.path`,
          'a path starting with / without spaces or control characters',
          http.path,
        )
      }
      httpPath = http.path
    }
    if (http.expectedStatus !== undefined)
      expectedStatus = statusRange(`${path}.http.expectedStatus`, http.expectedStatus)
    if (http.host !== undefined) {
      if (typeof http.host !== 'string' || http.host === '' || hasSpaceOrControl(http.host))
        throw invalidType(`${path}.http.host`, 'a host name (no spaces or control characters)', http.host)
      host = http.host
    }
    kind = { kind: 'http', path: httpPath, expectedStatus, host }
  } else if (kinds[0] === 'tcp') {
    if (options.tcp !== true) throw invalidType(`${path}.tcp`, 'true', options.tcp)
    kind = { kind: 'tcp' }
  } else {
    if (typeof options.check !== 'function') throw invalidType(`${path}.check`, 'a function', options.check)
    kind = { kind: 'custom', check: options.check as HealthCheckFunction }
  }
  const interval = durationMs(`${path}.interval`, options.interval, 5_000, 1)
  const timeout = durationMs(`${path}.timeout`, options.timeout, Math.min(1_000, interval), 1)
  const schedule: ResolvedCheckSchedule = {
    interval,
    timeout,
    jitter: numberIn(`${path}.jitter`, options.jitter, 0.1, 0, 1),
    healthyThreshold: integerIn(`${path}.healthyThreshold`, options.healthyThreshold, 1, 1, 1000),
    unhealthyThreshold: integerIn(`${path}.unhealthyThreshold`, options.unhealthyThreshold, 3, 1, 1000),
    initialState: oneOf(`${path}.initialState`, options.initialState, ['healthy', 'unhealthy'], 'healthy'),
  }
  return { ...kind, ...schedule }
}

/** A space, or a control character (C0, DEL): none may appear in a request line or Host header. */
function hasSpaceOrControl(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if (c <= 0x20 || c === 0x7f) return true
  }
  return false
}

function statusRange(path: string, value: unknown): readonly [number, number] {
  const code = (v: unknown): number => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 100 || v > 599) {
      throw outOfRange(path, 'an HTTP status code (100-599) or a [min, max] range of them', value)
    }
    return v
  }
  if (typeof value === 'number') return [code(value), value]
  if (Array.isArray(value) && value.length === 2) {
    const min = code(value[0])
    const max = code(value[1])
    if (min > max) throw outOfRange(path, 'a [min, max] range with min <= max', value)
    return [min, max]
  }
  throw invalidType(path, 'an HTTP status code or a [min, max] range', value)
}

/** `outlierDetection: false` turns passive ejection off; `undefined` keeps the defaults. */
export function resolveOutlierDetection(value: unknown, parent = ''): ResolvedOutlierDetection {
  const path = optionPath(parent, 'outlierDetection')
  if (value === false) {
    return { ...resolveOutlierDetection(undefined), enabled: false }
  }
  const options = value === undefined || value === true ? {} : requireObject(path, value)
  rejectUnknownKeys(path, options, OUTLIER_KEYS)
  const baseEjectionTime = durationMs(`${path}.baseEjectionTime`, options.baseEjectionTime, 30_000, 1)
  const maxEjectionTime = durationMs(
    `${path}.maxEjectionTime`,
    options.maxEjectionTime,
    Math.max(300_000, baseEjectionTime),
    1,
  )
  if (maxEjectionTime < baseEjectionTime) {
    throw outOfRange(
      `${path}.maxEjectionTime`,
      `at least ${path}.baseEjectionTime (${baseEjectionTime})`,
      maxEjectionTime,
    )
  }
  return {
    enabled: true,
    consecutiveFailures: integerIn(
      `${path}.consecutiveFailures`,
      options.consecutiveFailures,
      5,
      1,
      1_000_000,
    ),
    ejectOnConnectRefused: booleanOption(
      `${path}.ejectOnConnectRefused`,
      options.ejectOnConnectRefused,
      true,
    ),
    baseEjectionTime,
    maxEjectionTime,
    jitter: numberIn(`${path}.jitter`, options.jitter, 0.1, 0, 1),
    maxEjectionPercent: numberIn(`${path}.maxEjectionPercent`, options.maxEjectionPercent, 50, 0, 100),
    probation: durationMs(`${path}.probation`, options.probation, 10_000),
  }
}

/** `slowStart`: a window in ms (shorthand) or `{ window, minShare }`. Default off. */
export function resolveSlowStart(value: unknown, parent = ''): ResolvedSlowStart {
  const path = optionPath(parent, 'slowStart')
  if (value === undefined || value === false) return { window: 0, minShare: 1 }
  if (typeof value === 'number') return { window: durationMs(path, value, 0), minShare: 0.1 }
  const options = requireObject(path, value)
  rejectUnknownKeys(path, options, ['window', 'minShare'])
  if (options.window === undefined) throw invalidType(`${path}.window`, 'a number of milliseconds', undefined)
  return {
    window: durationMs(`${path}.window`, options.window, 0),
    minShare: numberIn(`${path}.minShare`, options.minShare, 0.1, 0.001, 1),
  }
}

export interface StallDetectionOptions {
  /**
   * Least time, ms, an endpoint must sit on waiting requests without answering anything before
   * it is stalled (takes no new request). Default 100.
   */
  minStallTime?: number
  /**
   * The stall time is at least this multiple of the median latency of the pool's endpoints, so a
   * service whose answers take 300 ms is not judged by a 100 ms constant. Default 10.
   */
  latencyMultiplier?: number
}

export interface ResolvedStallDetection {
  readonly enabled: boolean
  readonly minStallTime: number
  readonly latencyMultiplier: number
}

/** `stallDetection: false` turns it off (pending work still counts as latency for peak-EWMA). */
export function resolveStallDetection(value: unknown, parent = ''): ResolvedStallDetection {
  const path = optionPath(parent, 'stallDetection')
  if (value === false) return { ...resolveStallDetection(undefined), enabled: false }
  const options = value === undefined || value === true ? {} : requireObject(path, value)
  rejectUnknownKeys(path, options, ['minStallTime', 'latencyMultiplier'])
  return {
    enabled: true,
    minStallTime: durationMs(`${path}.minStallTime`, options.minStallTime, 100, 1),
    latencyMultiplier: numberIn(`${path}.latencyMultiplier`, options.latencyMultiplier, 10, 1, 1_000_000),
  }
}
