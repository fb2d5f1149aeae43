import { describe, expect, it } from 'vitest'
import { createClient, createPool, InvalidOptionError, OptionRangeError } from '../../src/index.js'

describe('option errors', () => {
  it('stay a TypeError / RangeError and carry the code, the option path and the value', () => {
    const wrongKind = (() => {
      try {
        createPool({ service: 'web', port: 80, panicThreshold: 'half' as never })
      } catch (error) {
        return error
      }
    })()
    expect(wrongKind).toBeInstanceOf(TypeError)
    expect(wrongKind).toBeInstanceOf(InvalidOptionError)
    expect(wrongKind).toMatchObject({ code: 'HLB_ERR_INVALID_OPTION', path: 'panicThreshold', value: 'half' })
    expect(() => createPool({ service: 'web', port: 70_000 })).toThrow(OptionRangeError)
    expect(() => createPool({ service: 'web', port: 70_000 })).toThrow(RangeError)
  })

  it('name the option path through every factory, in one message format', () => {
    expect(() => createClient({ origin: 'http://web', retry: { retries: -1 } })).toThrow(
      /^retry\.retries must be an integer from 0 to \d+, got -1/,
    )
    expect(() => createClient({ origin: 'http://web', balancr: 'random' } as never)).toThrow(
      /^balancr must be a known option, got "random"/,
    )
    const notAnOption = { path: 'x', value: 1 }
    expect(notAnOption).not.toBeInstanceOf(InvalidOptionError)
  })
})
