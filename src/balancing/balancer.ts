import type { Endpoint } from '../endpoint.js'
import type { EndpointState } from '../health/endpoint-state.js'
import { rampShare } from '../health/endpoint-state.js'

/**
 * What every picker shares with the pool: randomness, and the pool's notion of "now" (refreshed
 * on release and, while an endpoint ramps up, on pick) so pickers never read a clock themselves.
 */
export interface PickContext {
  now: number
  readonly random: () => number
  /** EWMA decay time constant, ms. */
  readonly ewmaDecay: number
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
  return state.rampEnd === 0 || context.random() < rampShare(state, context.now)
}
