import { describe, expect, it } from 'vitest'
import { systemClock } from '../../../src/discovery/clock.js'
import { createEndpointSource } from '../../../src/discovery/create-endpoint-source.js'
import { FakeClock, FakeResolver } from './fakes.js'

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

describe('ready({ timeout })', () => {
  it('rejects a timeout that is not a number of milliseconds, naming it', async () => {
    const resolver = new FakeResolver()
    resolver.hang = true
    const source = createEndpointSource(
      { service: 'web', port: 8080, dns: { search: [], ndots: 1 } },
      { clock: new FakeClock(), createResolver: () => resolver },
    )
    await expect(source.ready({ timeout: Number.NaN })).rejects.toThrow(
      new TypeError('ready options.timeout must be a number of milliseconds >= 0, got NaN'),
    )
    await expect(source.ready({ timeout: -5 })).rejects.toBeInstanceOf(RangeError)
    await expect(source.ready({ timeout: '5000' as never })).rejects.toBeInstanceOf(TypeError)
    await source.close()
  })
})
