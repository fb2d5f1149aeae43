import { describe, expect, it } from 'vitest'
import { createClient } from '../../src/http/create-client.js'
import { MAX_TIMER_MS } from '../../src/internal/clock.js'
import { durationMs } from '../../src/options.js'

describe('durationMs', () => {
  it('takes a duration up to the longest Node timer', () => {
    expect(durationMs('x', MAX_TIMER_MS, 0)).toBe(MAX_TIMER_MS)
    expect(durationMs('x', undefined, 7)).toBe(7)
  })

  it('rejects a duration Node would fire after 1 ms instead, naming the option', () => {
    expect(() => durationMs('retry.maxRetryAfter', MAX_TIMER_MS + 1, 0)).toThrow(RangeError)
    expect(() =>
      createClient({ origin: 'http://web.test', addresses: ['127.0.0.1:1'], retry: { maxRetryAfter: 3e9 } }),
    ).toThrow(
      /^retry\.maxRetryAfter must be at most 2147483647 milliseconds \(Node's longest timer\), got 3000000000/,
    )
  })
})
