import { describe, expect, it } from 'vitest'
import { createEndpointSource } from '../../../src/discovery/create-endpoint-source.js'
import { InvalidOptionError } from '../../../src/invalid-option-error.js'
import { FakeClock } from '../../support/fake-clock.js'
import { FakeResolver } from '../../support/fake-resolver.js'

describe('ready({ timeout })', () => {
  it('rejects a timeout that is not a number of milliseconds, naming it', async () => {
    const resolver = new FakeResolver()
    resolver.hang = true
    const source = createEndpointSource(
      { service: 'web', port: 8080, dns: { search: [], ndots: 1 } },
      { clock: new FakeClock(), createResolver: () => resolver },
    )
    await expect(source.ready({ timeout: Number.NaN })).rejects.toThrow(
      new InvalidOptionError(
        'ready options.timeout',
        'ready options.timeout must be a number of milliseconds >= 0, got NaN',
        Number.NaN,
      ),
    )
    await expect(source.ready({ timeout: -5 })).rejects.toBeInstanceOf(RangeError)
    await expect(source.ready({ timeout: '5000' as never })).rejects.toBeInstanceOf(TypeError)
    await source.close()
  })
})
