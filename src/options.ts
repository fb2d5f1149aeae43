/**
 * Shared validation for every options object. Each area keeps its option types and defaults
 * beside its code (discovery/discovery-options.ts, health/health-options.ts,
 * balancing/balancing-options.ts, http/client-options.ts) so the areas stay independent; they
 * all validate through these helpers so that every message has one shape:
 * `<option path> must be <expectation>, got <value>. <how to fix>`.
 */

import { MAX_TIMER_MS } from './internal/clock.js'

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
export function invalidType(path: string, expectation: string, value: unknown, hint?: string): TypeError {
  return new TypeError(message(path, expectation, value, hint))
}

/** A value of the right kind outside its range (a negative duration, port 70000...). */
export function outOfRange(path: string, expectation: string, value: unknown, hint?: string): RangeError {
  return new RangeError(message(path, expectation, value, hint))
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
        `${path ? `${path}.` : ''}${key}`,
        'a known option',
        value[key],
        near ? `Did you mean ${near}?` : `Known options: ${known.join(', ')}`,
      )
    }
  }
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
