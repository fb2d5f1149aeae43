import type { EndpointState } from '../health/endpoint-state.js'
import type { Balancer, Exclusions, PickContext } from './balancer.js'
import { admits, isExcluded } from './balancer.js'

/** Uniform random choice among the eligible endpoints. */
export class RandomBalancer implements Balancer {
  private eligible: ReadonlyArray<EndpointState> = []
  private readonly context: PickContext

  constructor(context: PickContext) {
    this.context = context
  }

  update(eligible: ReadonlyArray<EndpointState>, _members?: ReadonlyArray<EndpointState>): void {
    this.eligible = eligible
  }

  pick(_key: string | undefined, exclude: Exclusions): EndpointState | undefined {
    const eligible = this.eligible
    const n = eligible.length
    if (n === 0) return undefined
    // A few draws find a usable endpoint unless most are excluded; then scan once from a random start.
    for (let draw = 0; draw < 3; draw++) {
      const state = eligible[Math.floor(this.context.random() * n)]!
      if ((exclude === undefined || !isExcluded(state, exclude)) && admits(state, this.context)) return state
    }
    return scanFrom(eligible, Math.floor(this.context.random() * n), exclude)
  }
}

/** The first non-excluded endpoint from `start` on, wrapping; ramping endpoints count as usable. */
export function scanFrom(
  eligible: ReadonlyArray<EndpointState>,
  start: number,
  exclude: Exclusions,
): EndpointState | undefined {
  const n = eligible.length
  for (let k = 0; k < n; k++) {
    const state = eligible[(start + k) % n]!
    if (exclude === undefined || !isExcluded(state, exclude)) return state
  }
  return undefined
}
