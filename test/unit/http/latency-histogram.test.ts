import { describe, expect, it } from 'vitest'
import { HedgePolicy } from '../../../src/http/hedge-policy.js'
import { LatencyHistogram } from '../../../src/http/latency-histogram.js'

describe('LatencyHistogram', () => {
  it('estimates percentiles within its 4 % bucket width, never below the true value', () => {
    const h = new LatencyHistogram(10_000, 0)
    // 1..1000 ms, once each: the true p50 is 500, p95 950, p99 990.
    for (let ms = 1; ms <= 1_000; ms++) h.record(ms, 1)
    for (const [q, truth] of [
      [0.5, 500],
      [0.95, 950],
      [0.99, 990],
    ] as const) {
      const estimate = h.percentile(q, 1, 1)
      expect(estimate).toBeGreaterThanOrEqual(truth)
      expect(estimate).toBeLessThanOrEqual(truth * 1.04)
    }
  })

  it('gives no estimate before minSamples, and forgets latencies older than the window', () => {
    const h = new LatencyHistogram(10_000, 0)
    for (let i = 0; i < 19; i++) h.record(100, 0)
    expect(h.percentile(0.5, 20, 0)).toBe(-1)
    h.record(100, 0)
    expect(h.percentile(0.5, 20, 0)).toBeCloseTo(100, -1)
    // Half a window later the old latencies are still counted, beside new faster ones.
    for (let i = 0; i < 20; i++) h.record(10, 5_000)
    expect(h.count).toBe(40)
    expect(h.percentile(0.9, 20, 5_000)).toBeGreaterThanOrEqual(100)
    // A whole window after they were recorded, the 100 ms latencies are gone.
    expect(h.percentile(0.9, 20, 10_000)).toBeLessThanOrEqual(10.4)
    expect(h.count).toBe(20)
    // Idle for a whole window: nothing is left.
    expect(h.percentile(0.9, 1, 30_000)).toBe(-1)
    expect(h.count).toBe(0)
  })

  it('keeps extreme latencies in its first and last buckets', () => {
    const h = new LatencyHistogram(10_000, 0)
    h.record(0, 0)
    h.record(-1, 0)
    h.record(Number.NaN, 0)
    expect(h.percentile(1, 1, 0)).toBeCloseTo(0.05)
    const long = new LatencyHistogram(10_000, 0)
    long.record(10_000_000, 0)
    expect(long.percentile(1, 1, 0)).toBeGreaterThan(100_000)
  })
})

describe('HedgePolicy', () => {
  it('a fixed delay is the delay; a percentile is floored at minDelay and waits for enough samples', () => {
    expect(new HedgePolicy({ maxAttempts: 2, delay: 30, percentile: 0, minDelay: 0 }, 0).delay(0)).toBe(30)
    const p95 = new HedgePolicy({ maxAttempts: 2, delay: -1, percentile: 0.95, minDelay: 5 }, 0)
    // p95 needs 40 samples: two above the percentile.
    for (let i = 0; i < 39; i++) p95.record(1, 1)
    expect(p95.delay(1)).toBe(-1)
    p95.record(1, 1)
    expect(p95.delay(1)).toBe(5)
    for (let i = 0; i < 200; i++) p95.record(i < 150 ? 2 : 50, 2)
    expect(p95.delay(2)).toBeGreaterThanOrEqual(50)
    expect(p95.delay(2)).toBeLessThanOrEqual(52)
  })
})
