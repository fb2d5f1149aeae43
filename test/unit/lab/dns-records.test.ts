import { describe, expect, it } from 'vitest'
import {
  type ClusterDescription,
  clusterRecords,
  type DnsRecord,
  dashedIp,
  diffRrsets,
  type EndpointDescription,
  recordLine,
  type ServiceDescription,
  srvWeight,
  zoneFile,
} from '../../../lab/dns-records.js'

const http = { name: 'http', port: 8080, protocol: 'tcp' as const }

function endpoint(ip: string, extra: Partial<EndpointDescription> = {}): EndpointDescription {
  return { ip, ready: true, ports: [http], ...extra }
}

function cluster(services: ServiceDescription[], ttl = 5): ClusterDescription {
  return { zone: 'cluster.local', ttl, dnsAddress: '127.0.0.1', services }
}

/** `name TYPE data` lines of the records at or under `suffix`, sorted (apex records left out). */
function under(records: DnsRecord[], suffix: string): string[] {
  return records
    .filter((r) => r.name === suffix || r.name.endsWith(`.${suffix}`))
    .map((r) => `${r.name} ${r.type} ${r.data}`)
    .sort()
}

const statefulSet: ServiceDescription = {
  name: 'web',
  namespace: 'default',
  kind: 'headless',
  ports: [http],
  endpoints: [
    endpoint('127.0.10.1', { hostname: 'web-0' }),
    endpoint('127.0.10.2', { hostname: 'web-1' }),
    endpoint('127.0.10.3', { hostname: 'web-2' }),
  ],
}

describe('clusterRecords: a headless service (spec 2.4)', () => {
  it('StatefulSet: A per ready endpoint, a hostname A per pod, SRV per port targeting the hostnames', () => {
    expect(under(clusterRecords(cluster([statefulSet])), 'web.default.svc.cluster.local')).toEqual(
      [
        '_http._tcp.web.default.svc.cluster.local SRV 0 33 8080 web-0.web.default.svc.cluster.local.',
        '_http._tcp.web.default.svc.cluster.local SRV 0 33 8080 web-1.web.default.svc.cluster.local.',
        '_http._tcp.web.default.svc.cluster.local SRV 0 33 8080 web-2.web.default.svc.cluster.local.',
        'web-0.web.default.svc.cluster.local A 127.0.10.1',
        'web-1.web.default.svc.cluster.local A 127.0.10.2',
        'web-2.web.default.svc.cluster.local A 127.0.10.3',
        'web.default.svc.cluster.local A 127.0.10.1',
        'web.default.svc.cluster.local A 127.0.10.2',
        'web.default.svc.cluster.local A 127.0.10.3',
      ].sort(),
    )
  })

  it('Deployment: endpoints without a hostname are named by their dashed IP, as CoreDNS does; pod names get nothing', () => {
    const shop: ServiceDescription = {
      ...statefulSet,
      name: 'shop',
      endpoints: [endpoint('127.0.10.5'), endpoint('127.0.10.6')],
    }
    const records = under(clusterRecords(cluster([shop])), 'shop.default.svc.cluster.local')
    expect(records).toContain('127-0-10-5.shop.default.svc.cluster.local A 127.0.10.5')
    expect(records).toContain(
      '_http._tcp.shop.default.svc.cluster.local SRV 0 50 8080 127-0-10-6.shop.default.svc.cluster.local.',
    )
    expect(records.filter((r) => r.startsWith('shop.default.svc.cluster.local A '))).toHaveLength(2)
    expect(records).toHaveLength(6)
  })

  it('unready endpoints are left out; with none ready nothing exists at or under the name (NXDOMAIN)', () => {
    const some = {
      ...statefulSet,
      endpoints: statefulSet.endpoints.map((e, i) => ({ ...e, ready: i !== 1 })),
    }
    const records = under(clusterRecords(cluster([some])), 'web.default.svc.cluster.local')
    expect(records.some((r) => r.includes('web-1') || r.includes('127.0.10.2'))).toBe(false)
    // The weight counts the targets in the answer: 2 left -> 50.
    expect(records.filter((r) => r.includes(' SRV 0 50 8080 '))).toHaveLength(2)

    const none = { ...statefulSet, endpoints: statefulSet.endpoints.map((e) => ({ ...e, ready: false })) }
    expect(under(clusterRecords(cluster([none])), 'web.default.svc.cluster.local')).toEqual([])
    expect(
      under(clusterRecords(cluster([{ ...statefulSet, endpoints: [] }])), 'web.default.svc.cluster.local'),
    ).toEqual([])
  })

  it('one SRV name per named port and protocol, from the endpoint ports; unnamed ports get none', () => {
    const ports = [
      http,
      { name: 'metrics', port: 9090, protocol: 'tcp' as const },
      { name: 'dns', port: 53, protocol: 'udp' as const },
    ]
    const svc: ServiceDescription = {
      ...statefulSet,
      endpoints: [
        endpoint('127.0.10.1', {
          hostname: 'web-0',
          ports: [...ports, { name: '', port: 1, protocol: 'tcp' }],
        }),
      ],
    }
    const srv = under(clusterRecords(cluster([svc])), 'web.default.svc.cluster.local').filter((r) =>
      r.includes(' SRV '),
    )
    expect(srv).toEqual([
      '_dns._udp.web.default.svc.cluster.local SRV 0 100 53 web-0.web.default.svc.cluster.local.',
      '_http._tcp.web.default.svc.cluster.local SRV 0 100 8080 web-0.web.default.svc.cluster.local.',
      '_metrics._tcp.web.default.svc.cluster.local SRV 0 100 9090 web-0.web.default.svc.cluster.local.',
    ])
  })

  it('IPv6 endpoints get AAAA records; pods sharing ::1 are told apart by their SRV ports', () => {
    const six: ServiceDescription = {
      ...statefulSet,
      name: 'six',
      endpoints: [
        endpoint('::1', { hostname: 'six-0', ports: [{ ...http, port: 40001 }] }),
        endpoint('::1', { hostname: 'six-1', ports: [{ ...http, port: 40002 }] }),
      ],
    }
    const records = under(clusterRecords(cluster([six])), 'six.default.svc.cluster.local')
    expect(records).toEqual([
      '_http._tcp.six.default.svc.cluster.local SRV 0 50 40001 six-0.six.default.svc.cluster.local.',
      '_http._tcp.six.default.svc.cluster.local SRV 0 50 40002 six-1.six.default.svc.cluster.local.',
      'six-0.six.default.svc.cluster.local AAAA ::1',
      'six-1.six.default.svc.cluster.local AAAA ::1',
      // One RR, not two identical ones.
      'six.default.svc.cluster.local AAAA ::1',
    ])
  })
})

describe('clusterRecords: ClusterIP and ExternalName services (spec 2.3, 2.5)', () => {
  it('ClusterIP: one A record with the VIP, SRV targeting the service name, no endpoint records', () => {
    const api: ServiceDescription = {
      name: 'api',
      namespace: 'shop',
      kind: 'clusterIP',
      clusterIP: '127.0.11.1',
      ports: [{ ...http, port: 80 }],
      endpoints: [endpoint('127.0.10.1'), endpoint('127.0.10.2')],
    }
    expect(under(clusterRecords(cluster([api])), 'api.shop.svc.cluster.local')).toEqual([
      '_http._tcp.api.shop.svc.cluster.local SRV 0 100 80 api.shop.svc.cluster.local.',
      'api.shop.svc.cluster.local A 127.0.11.1',
    ])
    // The VIP stays when no endpoint is ready.
    const idle = { ...api, endpoints: api.endpoints.map((e) => ({ ...e, ready: false })) }
    expect(under(clusterRecords(cluster([idle])), 'api.shop.svc.cluster.local')).toContain(
      'api.shop.svc.cluster.local A 127.0.11.1',
    )
  })

  it('ExternalName: a CNAME to the external name', () => {
    const ext: ServiceDescription = {
      name: 'db',
      namespace: 'default',
      kind: 'externalName',
      externalName: 'DB.Example.org.',
      ports: [],
      endpoints: [],
    }
    expect(under(clusterRecords(cluster([ext])), 'db.default.svc.cluster.local')).toEqual([
      'db.default.svc.cluster.local CNAME db.example.org.',
    ])
  })
})

describe('clusterRecords: the zone', () => {
  it('has an SOA whose minimum is the TTL, NS glue and the spec schema version record', () => {
    const records = clusterRecords(cluster([], 30))
    expect(records.map((r) => `${r.name} ${r.type} ${r.data}`)).toEqual([
      'cluster.local SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 30',
      'cluster.local NS ns.dns.cluster.local.',
      'ns.dns.cluster.local A 127.0.0.1',
      'dns-version.cluster.local TXT "1.1.0"',
    ])
  })

  it('gives every record the configured TTL', () => {
    expect(new Set(clusterRecords(cluster([statefulSet], 30)).map((r) => r.ttl))).toEqual(new Set([30]))
    expect(new Set(clusterRecords(cluster([statefulSet])).map((r) => r.ttl))).toEqual(new Set([5]))
  })

  it('writes zone-file lines with absolute names', () => {
    const record: DnsRecord = { name: 'web.default.svc.cluster.local', type: 'A', ttl: 5, data: '127.0.10.1' }
    expect(recordLine(record)).toBe('web.default.svc.cluster.local. 5 IN A 127.0.10.1')
    expect(zoneFile([record])).toBe('web.default.svc.cluster.local. 5 IN A 127.0.10.1\n')
  })
})

describe('helpers', () => {
  it('dashedIp: dots (IPv4) or colons (IPv6) become dashes', () => {
    expect(dashedIp('127.0.10.5')).toBe('127-0-10-5')
    expect(dashedIp('::1')).toBe('--1')
    expect(dashedIp('FD00::A')).toBe('fd00--a')
  })

  it('srvWeight: CoreDNS floor(100 / n), 0 past 100 targets', () => {
    expect([1, 2, 3, 4, 7, 100, 101].map(srvWeight)).toEqual([100, 50, 33, 25, 14, 1, 0])
  })

  it('diffRrsets: whole RRsets that changed, appeared or disappeared', () => {
    const before = clusterRecords(cluster([statefulSet]))
    expect(diffRrsets(before, before)).toEqual([])
    const scaled = clusterRecords(cluster([{ ...statefulSet, endpoints: statefulSet.endpoints.slice(0, 2) }]))
    const changes = diffRrsets(before, scaled)
    const summary = changes.map((c) => `${c.type} ${c.name} ${c.records.length}`).sort()
    expect(summary).toEqual([
      'A web-2.web.default.svc.cluster.local 0',
      'A web.default.svc.cluster.local 2',
      'SRV _http._tcp.web.default.svc.cluster.local 2',
    ])
    // A TTL change rewrites every RRset.
    const longer = clusterRecords(cluster([statefulSet], 30))
    expect(diffRrsets(before, longer)).toHaveLength(new Set(before.map((r) => `${r.name} ${r.type}`)).size)
  })
})
