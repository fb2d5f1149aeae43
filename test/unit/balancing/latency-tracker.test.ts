import { describe, expect, it } from 'vitest'
import { PickContext } from '../../../src/balancing/balancer.js'
import { LatencyTracker } from '../../../src/balancing/latency-tracker.js'
import { decayedEwma, EndpointState } from '../../../src/health/endpoint-state.js'
import { statefulSet } from '../pool/fakes.js'

const DECAY = 10_000

function setup(n = 2) {
  const context = new PickContext(1_000, DECAY, () => 0.5)
  const states = new Map(statefulSet(n).map((e) => [e.id, new EndpointState(e)]))
  const tracker = new LatencyTracker(context, states)
  return { context, states: [...states.values()], tracker }
}

describe('the peak-EWMA latency tracker', () => {
  it('takes a slower sample at once and lets a faster one pull the average down with time', () => {
    const { context, states, tracker } = setup()
    const s = states[0]!
    tracker.observe(s, 10)
    expect(s.ewma).toBe(10)
    tracker.observe(s, 50)
    expect(s.ewma).toBe(50)
    context.now += DECAY
    tracker.observe(s, 10)
    const w = Math.exp(-1)
    expect(s.ewma).toBeCloseTo(50 * w + 10 * (1 - w), 9)
    expect(tracker.current(s, context.now + DECAY)).toBeCloseTo(s.ewma * Math.exp(-1), 9)
  })

  it('keeps the epoch-scaled twin that peak-EWMA picks compare without a clock', () => {
    const { context, states, tracker } = setup()
    context.now += 3_000
    tracker.observe(states[0]!, 20)
    expect(states[0]!.ewmaScaled).toBeCloseTo(20 * Math.exp(3_000 / DECAY), 9)
  })

  it('rescales every endpoint to a new epoch before the scale factor could overflow', () => {
    const { context, states, tracker } = setup()
    tracker.observe(states[1]!, 7)
    context.now += 601 * DECAY
    tracker.observe(states[0]!, 20)
    expect(context.ewmaEpoch).toBe(context.now)
    expect(states[0]!.ewmaScaled).toBe(20)
    expect(states[1]!.ewmaScaled).toBeCloseTo(7 * Math.exp(-601), 300)
    expect(Number.isFinite(states[1]!.ewmaScaled)).toBe(true)
  })

  it('raises the average to a censored sample, and never lowers it with one', () => {
    const { states, tracker } = setup()
    const s = states[0]!
    tracker.observe(s, 30)
    tracker.observeAtLeast(s, 10)
    expect(s.ewma).toBe(30)
    tracker.observeAtLeast(s, 80)
    expect(s.ewma).toBe(80)
  })

  it('starts a newcomer at the mean of the endpoints that have a latency', () => {
    const { context, states, tracker } = setup(3)
    tracker.observe(states[0]!, 10)
    tracker.observe(states[1]!, 30)
    tracker.seed(states[2]!)
    expect(states[2]!.ewma).toBeCloseTo(20, 9)
    expect(decayedEwma(states[2]!, context.now, DECAY)).toBeCloseTo(20, 9)
    const { states: fresh, tracker: empty } = setup(1)
    empty.seed(fresh[0]!)
    expect(fresh[0]!.ewmaStamp).toBe(0)
  })
})
