import { describe, expect, it } from 'vitest'
import { systemClock } from '../../../src/internal/clock.js'

/** Node's Timeout keeps the delay it will really wait in `_idleTimeout` (1 when it overflowed). */
function effectiveDelay(handle: unknown): number {
  return (handle as { _idleTimeout: number })._idleTimeout
}

describe('systemClock', () => {
  it('waits the longest a timer can for a delay beyond it, instead of firing at once', () => {
    // setTimeout replaces a delay above 2^31-1 ms (~24.8 days), or Infinity, with 1 ms: a
    // maxRefresh, ejection or ready() timeout meant as "practically never" would fire at once.
    for (const ms of [2 ** 31, 3e9, Number.POSITIVE_INFINITY]) {
      const handle = systemClock.setTimeout(() => {}, ms)
      try {
        expect(effectiveDelay(handle)).toBe(2 ** 31 - 1)
      } finally {
        systemClock.clearTimeout(handle)
      }
    }
    const handle = systemClock.setTimeout(() => {}, 1_500)
    expect(effectiveDelay(handle)).toBe(1_500)
    systemClock.clearTimeout(handle)
  })
})
