import type { EndpointState } from '../health/endpoint-state.js'
import type { Balancer, Exclusions, PickContext } from './balancer.js'
import { admits, isExcluded } from './balancer.js'

/**
 * Strict rotation over the eligible endpoints. When SRV weights differ, the rotation follows a
 * precomputed smooth weighted round-robin schedule (nginx's algorithm), so picking stays O(1)
 * and spreads each endpoint's turns through the cycle instead of bunching them.
 *
 * Health changes rebuild the schedule but keep the rotation's place (the next pick follows the
 * last endpoint picked), so a flapping neighbour does not reset anyone's turn. The first cursor
 * is random, as in grpc-js, so many clients started together do not all begin on the same pod.
 */
export class RoundRobinBalancer implements Balancer {
  private schedule: EndpointState[] = []
  /** Position of the next turn; always < schedule.length when the schedule is not empty. */
  private cursor = -1
  private readonly context: PickContext

  constructor(context: PickContext) {
    this.context = context
  }

  update(eligible: ReadonlyArray<EndpointState>, _members?: ReadonlyArray<EndpointState>): void {
    const previous = this.schedule
    const last =
      previous.length > 0 && this.cursor >= 0 ? previous[(this.cursor || previous.length) - 1] : undefined
    const schedule = weightedSchedule(eligible)
    const n = schedule.length
    this.schedule = schedule
    if (n === 0) return
    if (this.cursor < 0 || last === undefined) {
      this.cursor = this.cursor < 0 ? Math.floor(this.context.random() * n) : this.cursor % n
      return
    }
    // Continue after the last endpoint picked, by member order (it may have left the schedule).
    let next = 0
    for (let i = 0; i < n; i++) {
      if (schedule[i] === last) {
        next = i + 1
        break
      }
      if (schedule[i]!.index > last.index) {
        next = i
        break
      }
    }
    this.cursor = next === n ? 0 : next
  }

  pick(_key: string | undefined, exclude: Exclusions): EndpointState | undefined {
    const schedule = this.schedule
    const n = schedule.length
    // The common case, kept small so it inlines: not empty, no exclusions, not ramping. Every other
    // case, the empty schedule included, goes out of line: with one return path here, a caller that
    // inlines this (Pool.pick) knows the result is an EndpointState and re-checks nothing.
    if (n !== 0 && exclude === undefined) {
      const i = this.cursor
      const state = schedule[i]!
      if (state.ramping === 0) {
        this.cursor = i + 1 === n ? 0 : i + 1
        return state
      }
    }
    return this.pickSlowly(schedule, exclude)
  }

  private pickSlowly(schedule: EndpointState[], exclude: Exclusions): EndpointState | undefined {
    const n = schedule.length
    let i = this.cursor
    let skipped: EndpointState | undefined
    let skippedAt = 0
    for (let tries = 0; tries < n; tries++) {
      const state = schedule[i]!
      i = i + 1 === n ? 0 : i + 1
      if (exclude !== undefined && isExcluded(state, exclude)) continue
      if (state.ramping !== 0 && !admits(state, this.context)) {
        if (skipped === undefined) {
          skipped = state
          skippedAt = i
        }
        continue
      }
      this.cursor = i
      return state
    }
    // Every candidate was ramping and declined: better a ramping endpoint than none.
    if (skipped !== undefined) this.cursor = skippedAt
    return skipped
  }
}

/**
 * The rotation for one cycle. Equal weights: the endpoints themselves. Otherwise weights are
 * reduced by their gcd, scaled down when the cycle would exceed max(256, 4n) turns, and laid out
 * by smooth weighted round-robin. SRV weight 0 ("very small chance", RFC 2782) counts as 1.
 */
export function weightedSchedule(eligible: ReadonlyArray<EndpointState>): EndpointState[] {
  const n = eligible.length
  let uniform = true
  for (let i = 1; i < n; i++) if (eligible[i]!.weight !== eligible[0]!.weight) uniform = false
  if (uniform) return eligible.slice()
  const weights = eligible.map((s) => Math.max(1, Math.floor(s.weight)))
  let divisor = weights[0]!
  for (const w of weights) divisor = gcd(divisor, w)
  let total = 0
  for (let i = 0; i < n; i++) total += weights[i]! /= divisor
  const cap = Math.max(256, 4 * n)
  if (total > cap) {
    const sum = total
    total = 0
    for (let i = 0; i < n; i++) total += weights[i] = Math.max(1, Math.round((weights[i]! * cap) / sum))
  }
  const current = new Array<number>(n).fill(0)
  const schedule: EndpointState[] = []
  for (let turn = 0; turn < total; turn++) {
    let best = 0
    for (let i = 0; i < n; i++) {
      current[i]! += weights[i]!
      if (current[i]! > current[best]!) best = i
    }
    current[best]! -= total
    schedule.push(eligible[best]!)
  }
  return schedule
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b]
  return a
}
