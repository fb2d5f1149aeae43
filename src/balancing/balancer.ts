import type { Endpoint } from '../endpoint.js'
import type { EndpointState } from '../health/endpoint-state.js'
import { rampShare } from '../health/endpoint-state.js'

/**
 * What every picker shares with the pool: randomness, and the pool's notion of "now" (refreshed
 * on release and, while an endpoint ramps up, on pick) so pickers never read a clock themselves.
 *
 * The default random source is mulberry32 inline in `random()`, its state in an Int32Array: a
 * monomorphic method the JIT inlines (calling `Math.random` through a property boxed a double,
 * 16 bytes, per pick; a branch for an injected source cost 3 ns per call). An injected source
 * (tests) becomes an own property that shadows the method. Seeded per pool: no shared state.
 */
export class PickContext {
  // Numeric initializers matter: a field declared without one starts as `undefined`, and V8 then
  // stores every new double in it as a fresh heap number (16 bytes per write).
  now = 0
  /** EWMA decay time constant, ms. */
  readonly ewmaDecay: number = 0
  /** Time origin of EndpointState.ewmaScaled (see Pool's observe). */
  ewmaEpoch = 0
  private readonly seed = new Int32Array(1)

  constructor(now: number, ewmaDecay: number, random?: () => number) {
    this.now = now
    this.ewmaDecay = ewmaDecay
    this.ewmaEpoch = now
    this.seed[0] = Math.floor(Math.random() * 4294967296)
    if (random !== undefined) this.random = random
  }

  /** Uniform in [0, 1). */
  random(): number {
    const seed = this.seed
    const a = (seed[0] = (seed[0]! + 0x6d2b79f5) | 0)
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) * 2.3283064365386963e-10
  }
}

export type Exclusions = ReadonlyArray<Endpoint | string> | undefined

/**
 * One balancer behind one small interface, as grpc-js's pickers: `update` runs when the set or
 * health changes (rare, may allocate), `pick` runs per request (no allocation, no closures).
 */
export interface Balancer {
  /**
   * `eligible`: the members that may be picked now, in member order. `members`: every member of
   * the group, fit or not (consistent hashing places keys on members, so ejection moves no key).
   */
  update(eligible: ReadonlyArray<EndpointState>, members: ReadonlyArray<EndpointState>): void
  /** An eligible, non-excluded endpoint, or undefined when there is none. */
  pick(key: string | undefined, exclude: Exclusions): EndpointState | undefined
}

export function isExcluded(state: EndpointState, exclude: Exclusions): boolean {
  if (exclude === undefined) return false
  for (let i = 0; i < exclude.length; i++) {
    const e = exclude[i]
    if (e === state.endpoint || e === state.id || (typeof e === 'object' && e.id === state.id)) return true
  }
  return false
}

/**
 * Whether a ramping endpoint (slow start, probation) takes this request: with probability equal
 * to its current share. Non-ramping endpoints always do, without touching `random`.
 */
export function admits(state: EndpointState, context: PickContext): boolean {
  return state.ramping === 0 || context.random() < rampShare(state, context.now)
}
