import { describe, expect, it } from 'vitest'
import { addressId, describeEndpoint } from '../../../src/endpoint.js'
import { formatHostPort } from '../../../src/internal/format-host-port.js'

describe('formatHostPort', () => {
  it('brackets an IPv6 address and leaves IPv4 addresses and host names alone', () => {
    expect(formatHostPort('127.0.10.2', 8080)).toBe('127.0.10.2:8080')
    expect(formatHostPort('fd00::2', 8080)).toBe('[fd00::2]:8080')
    expect(formatHostPort('::ffff:127.0.0.1', '443')).toBe('[::ffff:127.0.0.1]:443')
    expect(formatHostPort('web-0.web.default.svc.cluster.local', 80)).toBe(
      'web-0.web.default.svc.cluster.local:80',
    )
  })

  it('is the form of address-only endpoint ids and endpoint descriptions', () => {
    expect(addressId('fd00::2', 8080)).toBe('[fd00::2]:8080')
    const endpoint = { id: 'x', address: 'fd00::2', family: 6 as const, port: 8080 }
    expect(describeEndpoint(endpoint)).toBe('[fd00::2]:8080')
    expect(describeEndpoint({ ...endpoint, name: 'web-1' })).toBe('web-1 ([fd00::2]:8080)')
  })
})
