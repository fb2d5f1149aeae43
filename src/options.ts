/**
 * Shared validation for every options object. Each area keeps its option types and defaults
 * beside its code (discovery/discovery-options.ts, health/health-options.ts,
 * balancing/balancing-options.ts, http/client-options.ts) so the areas stay independent; they
 * all validate through these helpers so that every message has one shape:
 * `<option path> must be <expectation>, got <value>. <how to fix>`.
 */

import { MAX_TIMER_MS } from './internal/clock.js'
import { InvalidOptionError, OptionRangeError } from './invalid-option-error.js'

/**
 * `path.key`, or `key` at the root: every validator takes the path of the object it reads. Paths
 * start from the factory's options argument, as the caller wrote it, without an `options.`
 * prefix: `retry.retries`, `services["web.default"].retry.retries` (a key the caller chose, such
 * as a service name, in brackets: it may hold dots), `dns.servers[0]`. The argument itself, when
 * it is not an object, is `options`.
 */
export function optionPath(path: string, key: string): string {
  return path ? `${path}.${key}` : key
}

/**
 * The keys of an options interface, declared once and checked complete by the compiler: the
 * argument must name every key of `T` (a `Record<keyof T, true>`), so an option added to the
 * interface but forgotten here is a compile error, and a key not in the interface is one too.
 */
export function keysOf<T>(
  keys: { readonly [K in keyof Required<T>]: true },
): ReadonlyArray<keyof T & string> {
  return Object.freeze(Object.keys(keys)) as ReadonlyArray<keyof T & string>
}

export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) {
    return String(value)
  }
  if (typeof value === 'function') return 'a function'
  if (Array.isArray(value)) return `an array of ${value.length}`
  try {
    const json = JSON.stringify(value)
    return json.length > 80 ? `${json.slice(0, 77)}...` : json
  } catch {
    return Object.prototype.toString.call(value)
  }
}

function message(path: string, expectation: string, value: unknown, hint?: string): string {
  return `${path} must be ${expectation}, got ${describeValue(value)}${hint ? `. ${hint}` : ''}`
}

/** A value of the wrong kind (a string where a number belongs, an unknown option...). */
export function invalidType(
  path: string,
  expectation: string,
  value: unknown,
  hint?: string,
  cause?: unknown,
): InvalidOptionError {
  return new InvalidOptionError(path, message(path, expectation, value, hint), value, cause)
}

/** A value of the right kind outside its range (a negative duration, port 70000...). */
export function outOfRange(
  path: string,
  expectation: string,
  value: unknown,
  hint?: string,
): OptionRangeError {
  return new OptionRangeError(path, message(path, expectation, value, hint), value)
}

export function requireObject(path: string, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidType(path, 'an object', value)
  }
  return value as Record<string, unknown>
}

/** Rejects keys the caller misspelled or that do not exist: a silent typo is a production bug. */
export function rejectUnknownKeys(
  path: string,
  value: Record<string, unknown>,
  known: ReadonlyArray<string>,
): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      const near = known.find((k) => k.toLowerCase() === key.toLowerCase())
      throw invalidType(
        optionPath(path, key),
        'a known option',
        value[key],
        near ? `Did you mean ${near}?` : `Known options: ${known.join(', ')}`,
      )
    }
  }
}

/**
 * Splits a composite options object by area (`{ http, discovery, balancing }` for createClient
 * and an agent's service, `{ discovery, balancing }` for createPool): every key goes to the area
 * whose key list names it, and a key no area names is rejected, with `path` in the message. The
 * one split every factory uses, so they accept and reject the same keys. Undefined values are
 * left out, as if not given.
 */
export function splitOptions<A extends string>(
  path: string,
  record: Record<string, unknown>,
  areas: { readonly [K in A]: ReadonlyArray<string> },
): { [K in A]: Record<string, unknown> } {
  const split: Record<string, Record<string, unknown>> = {}
  const areaOf = new Map<string, A>()
  for (const area of Object.keys(areas) as A[]) {
    split[area] = {}
    // A key two areas share (meterProvider: the client's and its pool's) goes to the first.
    for (const key of areas[area]) if (!areaOf.has(key)) areaOf.set(key, area)
  }
  rejectUnknownKeys(path, record, [...areaOf.keys()])
  for (const [key, value] of Object.entries(record)) {
    const area = areaOf.get(key)
    const target = area === undefined ? undefined : split[area]
    if (target !== undefined && value !== undefined) target[key] = value
  }
  return split as { [K in A]: Record<string, unknown> }
}

/**
 * A duration in milliseconds: a finite number from min (default 0) to MAX_TIMER_MS (a longer timer
 * would fire after 1 ms, so such an option would silently mean "at once").
 */
export function durationMs(path: string, value: unknown, fallback: number, min = 0): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw invalidType(path, 'a number of milliseconds', value)
  }
  if (!Number.isFinite(value) || value < min) {
    throw outOfRange(path, `a finite number of milliseconds >= ${min}`, value)
  }
  if (value > MAX_TIMER_MS) {
    throw outOfRange(path, `at most ${MAX_TIMER_MS} milliseconds (Node's longest timer)`, value)
  }
  return value
}

/** An integer in [min, max]. */
export function integerIn(path: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || Number.isNaN(value)) throw invalidType(path, 'an integer', value)
  if (!Number.isInteger(value) || value < min || value > max) {
    throw outOfRange(path, `an integer from ${min} to ${max}`, value)
  }
  return value
}

/** A number in [min, max] (a ratio, a percentage). */
export function numberIn(path: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || Number.isNaN(value)) throw invalidType(path, 'a number', value)
  if (value < min || value > max) throw outOfRange(path, `a number from ${min} to ${max}`, value)
  return value
}

export function booleanOption(path: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') throw invalidType(path, 'true or false', value)
  return value
}

export function oneOf<T extends string | number>(
  path: string,
  value: unknown,
  allowed: ReadonlyArray<T>,
  fallback: T,
): T {
  if (value === undefined) return fallback
  if (!allowed.includes(value as T)) {
    throw invalidType(path, `one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`, value)
  }
  return value as T
}

export function portNumber(path: string, value: unknown): number {
  if (typeof value !== 'number' || Number.isNaN(value)) throw invalidType(path, 'a port number', value)
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    throw outOfRange(path, 'an integer from 1 to 65535', value)
  }
  return value
}
