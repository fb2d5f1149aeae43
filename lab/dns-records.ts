/**
 * Pure: a cluster description -> the DNS records a Kubernetes cluster DNS (CoreDNS's kubernetes
 * plugin) would serve for it, per the Kubernetes DNS-Based Service Discovery specification
 * (kubernetes/dns, docs/specification.md, schema 1.1.0). No I/O, so it is unit-tested exhaustively
 * (test/unit/lab/dns-records.test.ts) and the DNS server only has to serve what this returns.
 */
import { isIPv4 } from 'node:net'

export type DnsRecordType = 'SOA' | 'NS' | 'A' | 'AAAA' | 'SRV' | 'CNAME' | 'TXT'

/** One resource record. `name` is absolute, lower case, without the trailing dot; `data` is zone-file presentation format. */
export interface DnsRecord {
  readonly name: string
  readonly type: DnsRecordType
  readonly ttl: number
  readonly data: string
}

export interface PortDescription {
  readonly name: string
  readonly port: number
  readonly protocol: 'tcp' | 'udp'
}

export interface EndpointDescription {
  readonly ip: string
  /** The pod's `hostname` (StatefulSet pods: the pod name); absent for Deployment pods. */
  readonly hostname?: string | undefined
  readonly ready: boolean
  /** The endpoint's ports (as an EndpointSlice lists them): published as SRV for headless services. */
  readonly ports: ReadonlyArray<PortDescription>
}

export interface ServiceDescription {
  readonly name: string
  readonly namespace: string
  readonly kind: 'headless' | 'clusterIP' | 'externalName'
  /** The VIP of a clusterIP service. */
  readonly clusterIP?: string | undefined
  /** The CNAME target of an externalName service. */
  readonly externalName?: string | undefined
  /** The service's ports: published as SRV for clusterIP services. */
  readonly ports: ReadonlyArray<PortDescription>
  readonly endpoints: ReadonlyArray<EndpointDescription>
}

export interface ClusterDescription {
  /** e.g. `cluster.local` */
  readonly zone: string
  /** Seconds, for every record (CoreDNS's kubernetes plugin default: 5). */
  readonly ttl: number
  /** The DNS server's own address, for the zone's NS glue. */
  readonly dnsAddress: string
  /** The SOA serial (only used when writing a whole zone file). */
  readonly serial?: number
  readonly services: ReadonlyArray<ServiceDescription>
}

/** `<svc>.<ns>.svc.<zone>` */
export function serviceFqdn(zone: string, namespace: string, name: string): string {
  return `${name}.${namespace}.svc.${zone}`.toLowerCase()
}

/**
 * The hostname label CoreDNS gives an endpoint without one (a Deployment pod behind a headless
 * service): its IP with '.' (or ':') replaced by '-', as CoreDNS's `endpointHostname` does.
 * `127.0.10.5` -> `127-0-10-5`; `::1` -> `--1`.
 */
export function dashedIp(ip: string): string {
  return isIPv4(ip) ? ip.replaceAll('.', '-') : ip.replaceAll(':', '-').toLowerCase()
}

/** The label an endpoint is published under: its hostname, else the dashed IP. */
export function endpointLabel(endpoint: Pick<EndpointDescription, 'ip' | 'hostname'>): string {
  return (endpoint.hostname ?? dashedIp(endpoint.ip)).toLowerCase()
}

/**
 * CoreDNS's SRV weight (plugin/backend_lookup.go): with n targets of one priority, each gets
 * floor(100 / (100 * n) * 100) computed in float64 (so 100 -> 1 target, 33 -> 3 targets, 0 beyond 100).
 */
export function srvWeight(targets: number): number {
  return Math.floor((100 / (100 * targets)) * 100)
}

function addressType(ip: string): 'A' | 'AAAA' {
  return isIPv4(ip) ? 'A' : 'AAAA'
}

/** The zone apex: SOA (minimum = TTL, as CoreDNS), NS with glue, and the spec's schema version record. */
function apexRecords(cluster: ClusterDescription): DnsRecord[] {
  const { zone, ttl } = cluster
  const ns = `ns.dns.${zone}`
  return [
    // CoreDNS: `ns.dns.<zone>. hostmaster.<zone>. serial 7200 1800 86400 <ttl>`.
    {
      name: zone,
      type: 'SOA',
      ttl,
      data: `${ns}. hostmaster.${zone}. ${cluster.serial ?? 1} 7200 1800 86400 ${ttl}`,
    },
    { name: zone, type: 'NS', ttl, data: `${ns}.` },
    { name: ns, type: addressType(cluster.dnsAddress), ttl, data: cluster.dnsAddress },
    // Spec section 2.2: `dns-version.<zone>. TXT "1.1.0"`.
    { name: `dns-version.${zone}`, type: 'TXT', ttl, data: '"1.1.0"' },
  ]
}

function srvName(port: PortDescription, fqdn: string): string {
  return `_${port.name}._${port.protocol}.${fqdn}`.toLowerCase()
}

function headlessRecords(service: ServiceDescription, fqdn: string, ttl: number): DnsRecord[] {
  const records: DnsRecord[] = []
  const ready = service.endpoints.filter((e) => e.ready)
  // Spec 2.4.1: an A/AAAA record per ready endpoint at the service name; none ready -> no
  // record at all, so the name does not exist (NXDOMAIN), not NODATA.
  const seen = new Set<string>()
  for (const e of ready) {
    const key = `${addressType(e.ip)} ${e.ip}`
    if (seen.has(key)) continue
    seen.add(key)
    records.push({ name: fqdn, type: addressType(e.ip), ttl, data: e.ip })
  }
  // Spec 2.4.1: `<hostname>.<svc>.<ns>.svc.<zone>` per ready endpoint with a hostname; CoreDNS
  // also publishes endpoints without one under their dashed IP (so SRV targets resolve).
  const hostSeen = new Set<string>()
  for (const e of ready) {
    const name = `${endpointLabel(e)}.${fqdn}`
    const key = `${name} ${e.ip}`
    if (hostSeen.has(key)) continue
    hostSeen.add(key)
    records.push({ name, type: addressType(e.ip), ttl, data: e.ip })
  }
  // Spec 2.4.2: SRV `_<port>._<proto>.<svc>...` per ready endpoint and named port, target the
  // endpoint's hostname name. Grouped per SRV name so the weight counts that answer's targets.
  const bySrvName = new Map<string, string[]>()
  for (const e of ready) {
    const target = `${endpointLabel(e)}.${fqdn}.`
    for (const p of e.ports) {
      if (p.name === '') continue // unnamed ports get no SRV record (spec 2.4.2)
      const name = srvName(p, fqdn)
      const list = bySrvName.get(name) ?? []
      const rest = `${p.port} ${target}`
      if (!list.includes(rest)) list.push(rest)
      bySrvName.set(name, list)
    }
  }
  for (const [name, targets] of bySrvName) {
    const weight = srvWeight(targets.length)
    for (const rest of targets) records.push({ name, type: 'SRV', ttl, data: `0 ${weight} ${rest}` })
  }
  return records
}

function clusterIpRecords(service: ServiceDescription, fqdn: string, ttl: number): DnsRecord[] {
  if (service.clusterIP === undefined)
    throw new TypeError(`service ${fqdn} is clusterIP but has no clusterIP`)
  // Spec 2.3.1/2.3.2: one A (or AAAA) record with the VIP, whether or not any endpoint is ready;
  // SRV per named port, target the service name itself.
  const records: DnsRecord[] = [
    { name: fqdn, type: addressType(service.clusterIP), ttl, data: service.clusterIP },
  ]
  for (const p of service.ports) {
    if (p.name === '') continue
    records.push({ name: srvName(p, fqdn), type: 'SRV', ttl, data: `0 ${srvWeight(1)} ${p.port} ${fqdn}.` })
  }
  return records
}

/** Every record of the zone, apex first, in a stable order. */
export function clusterRecords(cluster: ClusterDescription): DnsRecord[] {
  const zone = cluster.zone.toLowerCase()
  const records = apexRecords({ ...cluster, zone })
  for (const service of cluster.services) {
    const fqdn = serviceFqdn(zone, service.namespace, service.name)
    switch (service.kind) {
      case 'headless':
        records.push(...headlessRecords(service, fqdn, cluster.ttl))
        break
      case 'clusterIP':
        records.push(...clusterIpRecords(service, fqdn, cluster.ttl))
        break
      case 'externalName': {
        if (!service.externalName)
          throw new TypeError(`service ${fqdn} is externalName but has no externalName`)
        // Spec 2.5: a CNAME to the external name.
        const target = service.externalName.replace(/\.$/, '').toLowerCase()
        records.push({ name: fqdn, type: 'CNAME', ttl: cluster.ttl, data: `${target}.` })
        break
      }
    }
  }
  return records
}

/** The zone file for `clusterRecords(cluster)` (absolute names, explicit TTLs). */
export function zoneFile(records: ReadonlyArray<DnsRecord>): string {
  return `${records.map(recordLine).join('\n')}\n`
}

/** `name. ttl IN type data`, the form both zone files and nsupdate take. */
export function recordLine(r: DnsRecord): string {
  return `${r.name}. ${r.ttl} IN ${r.type} ${r.data}`
}

/** The key of the RRset a record belongs to. */
export function rrsetKey(r: Pick<DnsRecord, 'name' | 'type'>): string {
  return `${r.name} ${r.type}`
}

export interface RrsetChange {
  readonly name: string
  readonly type: DnsRecordType
  /** The RRset's new records; empty when the RRset is gone. */
  readonly records: ReadonlyArray<DnsRecord>
}

function groupRrsets(records: ReadonlyArray<DnsRecord>): Map<string, DnsRecord[]> {
  const sets = new Map<string, DnsRecord[]>()
  for (const r of records) {
    const key = rrsetKey(r)
    const list = sets.get(key) ?? []
    list.push(r)
    sets.set(key, list)
  }
  return sets
}

function sameRrset(a: ReadonlyArray<DnsRecord>, b: ReadonlyArray<DnsRecord>): boolean {
  if (a.length !== b.length) return false
  const lines = new Set(a.map(recordLine))
  return b.every((r) => lines.has(recordLine(r)))
}

/**
 * The RRsets that differ between two record lists (a dynamic update replaces whole RRsets, so a
 * TTL or SRV-weight change rewrites the set). SOA changes are reported like any other.
 */
export function diffRrsets(before: ReadonlyArray<DnsRecord>, after: ReadonlyArray<DnsRecord>): RrsetChange[] {
  const old = groupRrsets(before)
  const now = groupRrsets(after)
  const changes: RrsetChange[] = []
  for (const [key, records] of now) {
    const previous = old.get(key)
    if (previous && sameRrset(previous, records)) continue
    const first = records[0]!
    changes.push({ name: first.name, type: first.type, records })
  }
  for (const [key, records] of old) {
    if (now.has(key)) continue
    const first = records[0]!
    changes.push({ name: first.name, type: first.type, records: [] })
  }
  return changes
}
