import type { PrimaryOptions, PrimaryProbe } from '../balancing/balancing-options.js'
import { BALANCING_OPTION_KEYS } from '../balancing/balancing-options.js'
import { DISCOVERY_OPTION_KEYS } from '../discovery/discovery-options.js'
import { namesPort } from '../internal/default-port.js'
import type { ReadPreference } from '../lease.js'
import { invalidType, oneOf, rejectUnknownKeys, requireObject } from '../options.js'
import type { PoolOptions } from '../pool.js'
import type { ProbeTracker } from './probe-tracker.js'

/**
 * The `primary` option of a router: the pool's own forms (`{ probe }`, `{ ordinal }`, `{ name }`),
 * or only the timing of the router's built-in probe.
 */
export type RouterPrimaryOptions =
  | PrimaryOptions
  | {
      /** Milliseconds between probe rounds. Default 5_000. */
      interval?: number
      /** Milliseconds before one probe counts as failed (role unknown). Default 2_000. */
      timeout?: number
    }

export const READ_PREFERENCES: ReadonlyArray<ReadPreference> = [
  'primary',
  'primaryPreferred',
  'replica',
  'replicaPreferred',
  'nearest',
]

/**
 * The pool options inside a router's options: everything `createPool` takes, with the port
 * defaulting to the protocol's and the role probe defaulting to the router's built-in one.
 * Rejects keys that neither the pool nor the router knows.
 */
export function routerPoolOptions(
  record: Record<string, unknown>,
  routerKeys: ReadonlyArray<string>,
  defaultPort: number,
  builtInProbe: PrimaryProbe,
  tracker: ProbeTracker,
): PoolOptions {
  rejectUnknownKeys('', record, [...routerKeys, ...DISCOVERY_OPTION_KEYS, ...BALANCING_OPTION_KEYS])
  const options: Record<string, unknown> = {}
  for (const key of [...DISCOVERY_OPTION_KEYS, ...BALANCING_OPTION_KEYS]) {
    if (record[key] !== undefined) options[key] = record[key]
  }
  if (!namesPort(options)) options.port = defaultPort
  const primary = record.primary === undefined ? {} : requireObject('primary', record.primary)
  // Only timing given: the built-in probe with that timing. A probe, ordinal or name: as given,
  // a probe watched so that ready() can wait for its first round.
  if ('ordinal' in primary || 'name' in primary) options.primary = primary
  else if (typeof primary.probe === 'function') {
    options.primary = { ...primary, probe: tracker.wrap(primary.probe as PrimaryProbe) }
  } else if ('probe' in primary)
    options.primary = primary // not a function: createPool says so
  else options.primary = { ...primary, probe: tracker.wrap(builtInProbe) }
  return options as unknown as PoolOptions
}

export function readPreferenceOption(value: unknown): ReadPreference {
  return oneOf('readPreference', value, READ_PREFERENCES, 'replicaPreferred')
}

/**
 * The client library's own options, minus where to connect: the router connects to each pod's
 * address, so a host, port or URL there is a mistake that would route everything to one server.
 */
export function clientOptions(
  path: string,
  value: unknown,
  forbidden: ReadonlyArray<string>,
): Record<string, unknown> {
  if (value === undefined) return {}
  const record = requireObject(path, value)
  for (const key of forbidden) {
    if (record[key] !== undefined) {
      throw invalidType(
        `${path}.${key}`,
        'left out (the router connects to the address of each pod of the service)',
        record[key],
        'Name the service in `service` and its port in `port` or `portName`',
      )
    }
  }
  return record
}
