import { describe, expect, it } from 'vitest'
import { namesPort, poolPort, schemePort } from '../../../src/internal/default-port.js'

describe('schemePort', () => {
  it('is 443 for https: and 80 for http:', () => {
    expect(schemePort('https:')).toBe(443)
    expect(schemePort('http:')).toBe(80)
  })
})

describe('poolPort', () => {
  it.each([
    [{}, 8080, true, 8080],
    [{ port: 9000 }, 8080, false, 9000],
    [{ portName: 'http' }, 8080, false, undefined],
    [{ port: 9000, portName: 'http' }, 8080, false, 9000],
    [{ port: undefined, portName: undefined }, 5432, true, 5432],
  ])('%j with default %d: defaulted %s, port %s', (options, fallback, defaulted, port) => {
    expect(namesPort(options)).toBe(!defaulted)
    expect(poolPort(options, fallback)).toBe(port)
  })
})
