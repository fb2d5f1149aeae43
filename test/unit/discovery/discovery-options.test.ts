import { describe, expect, it } from 'vitest'
import { createEndpointSource } from '../../../src/discovery/create-endpoint-source.js'
import {
  DISCOVERY_OPTION_KEYS,
  pickDiscoveryOptions,
  validateDiscoveryOptions,
} from '../../../src/discovery/discovery-options.js'

describe('validateDiscoveryOptions', () => {
  it('applies defaults', () => {
    const o = validateDiscoveryOptions({ service: 'Web.default.svc.cluster.local', port: 8080 })
    expect(o).toMatchObject({
      service: 'web.default.svc.cluster.local',
      port: 8080,
      family: 4,
      minRefresh: 1000,
      maxRefresh: 30_000,
      readyTimeout: 10_000,
      dns: { timeout: 1000, tries: 2, servers: undefined, search: undefined, ndots: undefined },
    })
  })

  it('lists every option key', () => {
    expect([...DISCOVERY_OPTION_KEYS].sort()).toEqual(
      [
        'addresses',
        'dns',
        'family',
        'maxRefresh',
        'minRefresh',
        'pods',
        'port',
        'portName',
        'readyTimeout',
        'service',
      ].sort(),
    )
  })

  it.each(['family', 'minRefresh', 'maxRefresh', 'readyTimeout'])(
    'rejects %s with static addresses (it would be ignored), naming both',
    (key) => {
      const options = { service: 'web', addresses: ['127.0.0.1:80'], [key]: key === 'family' ? 6 : 5_000 }
      expect(() => validateDiscoveryOptions(options)).toThrow(
        new RegExp(`^${key} must be absent when addresses is set, got`),
      )
      expect(() => validateDiscoveryOptions(options)).toThrow(TypeError)
    },
  )

  it.each([
    [{ service: 'web', port: 1, prot: 2 }, TypeError, /^prot must be a known option/],
    [
      { service: 'web', port: 1, dns: { server: ['127.0.0.1'] } },
      TypeError,
      /^dns\.server must be a known option.*servers/,
    ],
    [{ service: 'web', Port: 1 }, TypeError, /Did you mean port\?/],
    [{ service: 'web_1', port: 80 }, TypeError, /^service must be a valid DNS name/],
    [{ service: '-web', port: 80 }, TypeError, /^service must be a valid DNS name/],
    [{ service: 'web..default', port: 80 }, TypeError, /^service must be a valid DNS name/],
    [{ service: `${'a'.repeat(64)}.svc`, port: 80 }, TypeError, /longer than 63/],
    [{ service: 42, port: 80 }, TypeError, /^service must be a DNS name/],
    [{ service: 'web', port: 70000 }, RangeError, /^port must be an integer from 1 to 65535, got 70000/],
    [{ service: 'web', port: 0 }, RangeError, /^port must be/],
    [{ service: 'web', port: '80' }, TypeError, /^port must be a port number/],
    [{ service: 'web' }, TypeError, /^port must be a port number \(or set portName\)/],
    [{ service: 'web', port: 80, portName: 'http' }, TypeError, /^portName must be absent when port is set/],
    [{ service: 'web', portName: 'HTTP_x' }, TypeError, /^portName must be a Kubernetes port name/],
    [{ service: 'web', port: 80, family: 5 }, TypeError, /^family must be one of 4, 6, "dual"/],
    [
      { service: 'web', port: 80, pods: ['db-0'], addresses: ['127.0.0.1'] },
      TypeError,
      /^pods must be absent when addresses is set/,
    ],
    [
      { service: 'web', portName: 'http', pods: ['db-0'] },
      TypeError,
      /^portName must be absent when pods is set/,
    ],
    [
      { service: 'web', addresses: ['127.0.0.1:80'], dns: { servers: ['127.0.0.1'] } },
      TypeError,
      /^dns must be absent when addresses is set/,
    ],
    [{ service: 'web', port: 80, pods: ['db-0.x'] }, TypeError, /^pods\[0\] must be a pod name/],
    [{ service: 'web', port: 80, pods: [] }, RangeError, /^pods must be a non-empty array/],
    [
      { service: 'web', addresses: ['127.0.0.1'] },
      TypeError,
      /^addresses\[0\] must be an address with a port/,
    ],
    [{ service: 'web', addresses: ['localhost:80'] }, TypeError, /^addresses\[0\] must be an IP address/],
    [
      { service: 'web', addresses: ['127.0.0.1:99999'] },
      RangeError,
      /^addresses\[0\] must be an address with a port from 1/,
    ],
    [
      { service: 'web', port: 80, dns: { servers: ['dns.local:53'] } },
      TypeError,
      /^dns\.servers\[0\] must be an IP address/,
    ],
    [
      { service: 'web', port: 80, dns: { servers: [] } },
      RangeError,
      /^dns\.servers must be a non-empty array/,
    ],
    [
      { service: 'web', port: 80, dns: { ndots: 16 } },
      RangeError,
      /^dns\.ndots must be an integer from 0 to 15/,
    ],
    [
      { service: 'web', port: 80, dns: { search: ['a..b'] } },
      TypeError,
      /^dns\.search\[0\] must be a domain name/,
    ],
    [
      { service: 'web', port: 80, minRefresh: -1 },
      RangeError,
      /^minRefresh must be a finite number of milliseconds >= 1, got -1/,
    ],
    [
      { service: 'web', port: 80, minRefresh: 5000, maxRefresh: 1000 },
      RangeError,
      /^maxRefresh must be a number of milliseconds >= minRefresh/,
    ],
    [null, TypeError, /^options must be an object/],
  ])('rejects %j', (options, type, message) => {
    expect(() => validateDiscoveryOptions(options)).toThrow(type)
    expect(() => validateDiscoveryOptions(options)).toThrow(message)
  })

  it('prefixes the option path', () => {
    expect(() =>
      validateDiscoveryOptions({ service: 'web', port: 80, dns: { tries: 0 } }, 'discovery'),
    ).toThrow(/^discovery\.dns\.tries must be an integer from 1 to 10/)
  })

  it('parses static addresses with and without ports, IPv4 and IPv6', () => {
    const o = validateDiscoveryOptions({
      service: 'web',
      port: 80,
      addresses: ['127.0.0.1', '127.0.0.2:8081', '::1', '[::1]:9000'],
    })
    expect(o.addresses).toEqual([
      { address: '127.0.0.1', family: 4, port: 80 },
      { address: '127.0.0.2', family: 4, port: 8081 },
      { address: '::1', family: 6, port: 80 },
      { address: '::1', family: 6, port: 9000 },
    ])
  })

  it('accepts an absolute name and DNS servers with ports', () => {
    const o = validateDiscoveryOptions({
      service: 'web.default.svc.cluster.local.',
      portName: 'http',
      dns: {
        servers: ['127.0.0.53:5353', '[::1]:53', '10.0.0.10'],
        search: ['svc.cluster.local.'],
        ndots: 5,
      },
    })
    expect(o.service).toBe('web.default.svc.cluster.local.')
    expect(o.dns.search).toEqual(['svc.cluster.local'])
  })
})

describe('composite options', () => {
  it("createEndpointSource takes a pool options object and ignores the other areas' keys", async () => {
    const options = { service: 'dev', addresses: ['127.0.0.1:3000'], balancer: 'round-robin' }
    expect(pickDiscoveryOptions(options)).toEqual({ service: 'dev', addresses: ['127.0.0.1:3000'] })
    const source = createEndpointSource(options as never)
    expect(source.endpoints).toHaveLength(1)
    await source.close()
    // The strict check, for the composite's own validation.
    expect(() => validateDiscoveryOptions(options)).toThrow(/^balancer must be a known option/)
  })
})
