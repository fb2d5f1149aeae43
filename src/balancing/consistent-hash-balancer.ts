import type { EndpointState } from '../health/endpoint-state.js'
import { invalidType } from '../options.js'
import type { Balancer, Exclusions, PickContext } from './balancer.js'
import { isExcluded } from './balancer.js'
import { scanFrom } from './random-balancer.js'

/**
 * Consistent hashing by `key` with a Maglev lookup table (Eisenbud et al., NSDI 2016): O(1) per
 * pick, and when one of N members joins or leaves about 1/N of the keys move.
 *
 * The table is built over the group's *members* (what discovery lists), not over the currently
 * fit ones, so an ejection or a failed check moves no key: a key whose endpoint is not eligible
 * (or is excluded) is re-hashed with a salt, up to a few times, and only those keys go elsewhere;
 * they come back when the endpoint does. Requests without a key are spread at random. Slow start
 * does not apply here: sending a key away and back would defeat the point.
 */
export class ConsistentHashBalancer implements Balancer {
  private members: ReadonlyArray<EndpointState> = []
  private eligible: ReadonlyArray<EndpointState> = []
  private table: Int32Array = new Int32Array(0)
  /** The pool passed stalled endpoints as eligible: all of them are, so stalled ones may take keys. */
  private stalledOk = 0
  private readonly context: PickContext

  constructor(context: PickContext) {
    this.context = context
  }

  update(eligible: ReadonlyArray<EndpointState>, members: ReadonlyArray<EndpointState>): void {
    this.eligible = eligible
    this.stalledOk = eligible.length > 0 && eligible[0]!.stalled !== 0 ? 1 : 0
    if (sameMembers(this.members, members)) return
    this.members = members.slice()
    this.table = maglevTable(this.members.map((m) => m.id))
  }

  pick(key: string | undefined, exclude: Exclusions): EndpointState | undefined {
    const members = this.members
    if (members.length === 0 || this.eligible.length === 0) return undefined
    if (key === undefined) {
      const eligible = this.eligible
      return scanFrom(eligible, Math.floor(this.context.random() * eligible.length), exclude)
    }
    // hashString reads .length and charCodeAt: a number would hash as "" and land every such key
    // (a numeric user id) on one endpoint.
    if (typeof key !== 'string')
      throw invalidType('pick options.key', 'a string (the consistent-hash key)', key)
    const table = this.table
    const size = table.length
    for (let salt = 0; salt < 8; salt++) {
      const state = members[table[hashString(key, salt) % size]!]!
      if (this.usable(state) && (exclude === undefined || !isExcluded(state, exclude))) return state
    }
    // Most members unfit or excluded: a deterministic walk of the table from the key's slot.
    const start = hashString(key, 0) % size
    for (let k = 1; k < size; k++) {
      const state = members[table[(start + k) % size]!]!
      if (this.usable(state) && (exclude === undefined || !isExcluded(state, exclude))) return state
    }
    return undefined
  }

  /** Fit (state.eligible is health only), and not stalled unless every fit endpoint is. */
  private usable(state: EndpointState): boolean {
    return state.eligible && (state.stalled === 0 || this.stalledOk === 1)
  }
}

function sameMembers(a: ReadonlyArray<EndpointState>, b: ReadonlyArray<EndpointState>): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i]!.id !== b[i]!.id) return false
  return true
}

/**
 * Table size: a prime, fixed per tier so that a member joining or leaving does not change it (a
 * new size would remap nearly every key). 65_537 (Envoy's default) keeps shares within ~1% up to
 * ~650 members; larger sets use 655_373, and crossing that tier remaps keys once.
 */
export function maglevTableSize(members: number): number {
  return members <= 655 ? 65_537 : 655_373
}

/**
 * Maglev population: each member walks its own permutation of the slots (offset + j x skip, both
 * from hashes of its id) and members take turns claiming their next free slot.
 */
export function maglevTable(ids: ReadonlyArray<string>): Int32Array {
  const n = ids.length
  const size = maglevTableSize(n)
  const table = new Int32Array(size).fill(-1)
  if (n === 0) return new Int32Array(0)
  const offset = new Int32Array(n)
  const skip = new Int32Array(n)
  const next = new Int32Array(n)
  for (let i = 0; i < n; i++) {
    offset[i] = hashString(ids[i]!, 0x9e37) % size
    skip[i] = (hashString(ids[i]!, 0x85eb) % (size - 1)) + 1
  }
  let filled = 0
  while (true) {
    for (let i = 0; i < n; i++) {
      let slot = (offset[i]! + next[i]! * skip[i]!) % size
      while (table[slot]! >= 0) {
        next[i]!++
        slot = (offset[i]! + next[i]! * skip[i]!) % size
      }
      table[slot] = i
      next[i]!++
      if (++filled === size) return table
    }
  }
}

/** FNV-1a over UTF-16 code units, seeded, with murmur3's finalizer for avalanche. Unsigned 32-bit. */
export function hashString(text: string, seed: number): number {
  let h = (0x811c9dc5 ^ Math.imul(seed, 0x01000193)) >>> 0
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}
