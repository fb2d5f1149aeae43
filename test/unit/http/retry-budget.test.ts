import { describe, expect, it, vi } from 'vitest'
import { classifyFailure } from '../../../src/http/classify-failure.js'
import { parseRetryAfter } from '../../../src/http/retry-after.js'
import { RetryBudget } from '../../../src/http/retry-budget.js'

describe('RetryBudget', () => {
  it('allows a share of recent requests plus a floor per second', () => {
    const now = 0
    const budget = new RetryBudget({ ratio: 0.2, minPerSecond: 1, window: 10_000 }, () => now)
    // Floor: 1/s over 10 s = 10 retries with no requests at all.
    expect(budget.available).toBe(10)
    for (let i = 0; i < 100; i++) budget.recordRequest()
    expect(budget.available).toBe(30)
    let granted = 0
    while (budget.tryRetry()) granted++
    expect(granted).toBe(30)
    expect(budget.tryRetry()).toBe(false)
  })

  it('forgets requests and retries older than the window', () => {
    let now = 0
    const budget = new RetryBudget({ ratio: 0.5, minPerSecond: 0, window: 10_000 }, () => now)
    for (let i = 0; i < 10; i++) budget.recordRequest()
    while (budget.tryRetry()) {}
    expect(budget.available).toBe(0)
    now = 5_000
    expect(budget.available).toBe(0)
    now = 10_500
    expect(budget.available).toBe(0) // requests gone, and the retries with them
    for (let i = 0; i < 4; i++) budget.recordRequest()
    expect(budget.available).toBe(2)
    now = 1_000_000
    expect(budget.available).toBe(0)
  })

  it('gives back a retry not sent, from a later slot too, and never one that expired', () => {
    let now = 0
    const budget = new RetryBudget({ ratio: 0, minPerSecond: 0.2, window: 10_000 }, () => now) // two per 10 s
    expect(budget.tryRetry()).toBe(true)
    now = 3_000 // a backoff later, in another slot
    budget.refund()
    expect(budget.available).toBe(2)
    expect(budget.tryRetry()).toBe(true)
    now = 20_000 // the retry left the window with its slot
    budget.refund()
    expect(budget.available).toBe(2)
  })

  it('counts time on a monotonic clock: a wall-clock step does not refill a spent budget', () => {
    let wall = Date.now()
    const clock = vi.spyOn(Date, 'now').mockImplementation(() => wall)
    try {
      const budget = new RetryBudget({ ratio: 0, minPerSecond: 0.1, window: 10_000 }) // one retry per 10 s
      expect(budget.tryRetry()).toBe(true)
      expect(budget.tryRetry()).toBe(false)
      wall += 60_000 // NTP steps the wall clock a minute ahead; no time has passed
      expect(budget.tryRetry()).toBe(false)
    } finally {
      clock.mockRestore()
    }
  })
})

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates, and ignores junk', () => {
    const now = Date.parse('2026-01-01T00:00:00Z')
    expect(parseRetryAfter('3', now)).toBe(3_000)
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:02 GMT', now)).toBe(2_000)
    expect(parseRetryAfter('Wed, 31 Dec 2025 00:00:02 GMT', now)).toBe(0)
    expect(parseRetryAfter(undefined, now)).toBe(0)
    expect(parseRetryAfter('soon', now)).toBe(0)
    expect(parseRetryAfter(['1', '2'], now)).toBe(1_000)
  })
})

describe('classifyFailure', () => {
  it('maps undici and Node error codes to failure kinds', () => {
    expect(classifyFailure({ code: 'ECONNREFUSED' })).toBe('connect-refused')
    expect(classifyFailure({ code: 'EHOSTUNREACH' })).toBe('connect-refused')
    expect(classifyFailure({ code: 'UND_ERR_CONNECT_TIMEOUT' })).toBe('connect-timeout')
    expect(classifyFailure({ code: 'UND_ERR_HEADERS_TIMEOUT' })).toBe('timeout')
    expect(classifyFailure({ code: 'UND_ERR_BODY_TIMEOUT' })).toBe('timeout')
    expect(classifyFailure({ code: 'UND_ERR_SOCKET' })).toBe('reset')
    expect(classifyFailure({ code: 'ECONNRESET' })).toBe('reset')
    expect(classifyFailure(new Error('x'))).toBe('other')
    expect(classifyFailure(null)).toBe('other')
  })
})
