import type { AddressRecord, Answer, DnsClient, SrvRecord } from '../discovery/dns-client.js'
import { canonicalName, firstLabel, isDashedIpLabel } from '../discovery/dns-name.js'
import { ordinalOf } from '../endpoint.js'

/** The four situations the seed describes, as DNS shows them, and an ExternalName service (a CNAME). */
export type ServiceCase =
  | 'clusterIP'
  | 'headless-deployment'
  | 'headless-statefulset'
  | 'no-ready-pods'
  | 'externalName'

export interface DiagnosedEndpoint {
  readonly address: string
  readonly family: 4 | 6
  /** Seconds. */
  readonly ttl: number
  readonly port?: number
  readonly priority?: number
  readonly weight?: number
  /** The SRV target this address came from. */
  readonly target?: string
  /** Pod name and ordinal, for StatefulSet pods. */
  readonly name?: string
  readonly ordinal?: number
}

export interface Diagnosis {
  /** The name as given. */
  readonly service: string
  /** The name that answered after search-list expansion, when one did. */
  readonly fqdn: string | undefined
  readonly case: ServiceCase
  readonly summary: string
  readonly advice: string
  /** The A/AAAA query of the service and what it gave. */
  readonly addressQuery: string
  readonly addresses: ReadonlyArray<AddressRecord>
  /** The SRV query and what it gave (empty when there is no SRV record). */
  readonly srvQuery: string
  readonly srv: ReadonlyArray<SrvRecord>
  /** The CNAME of the service name, if it has one (an ExternalName service). */
  readonly cname: string | undefined
  readonly endpoints: ReadonlyArray<DiagnosedEndpoint>
  readonly exitCode: 0 | 1
}

export interface DoctorOptions {
  readonly service: string
  readonly family: 4 | 6 | 'dual'
  /** SRV port name; default 'http', the lab's and many charts' first port name. */
  readonly portName: string
  /** The port to show when SRV gives none. */
  readonly port: number | undefined
  /** Stops between queries (the caller cancels the queries in flight). */
  readonly signal?: AbortSignal | undefined
}

function named(records: ReadonlyArray<SrvRecord>, fqdn: string): boolean {
  return records.some((r) => r.target !== fqdn && !isDashedIpLabel(firstLabel(r.target)))
}

/**
 * Asks DNS what a pod's resolver would see for the service and classifies it. Throws
 * DnsQueryError when DNS gives no definitive answer (the CLI exits 3).
 */
export async function diagnose(client: DnsClient, options: DoctorOptions): Promise<Diagnosis> {
  const { service, family, portName, signal } = options
  const srvPrefix = `_${portName}._tcp.`
  const [addressAnswer, srvAnswer] = await Promise.all([
    client.search(service, (name) => client.addresses(name, family)),
    client.search(service, (name) => client.srv(`${srvPrefix}${name}`), `${srvPrefix}${service}`),
  ])
  signal?.throwIfAborted()
  let fqdn =
    addressAnswer.kind === 'records'
      ? addressAnswer.name
      : srvAnswer.kind === 'records'
        ? canonicalName(srvAnswer.candidate!)
        : undefined
  const addresses =
    addressAnswer.kind === 'records'
      ? [...addressAnswer.records].sort((x, y) => x.address.localeCompare(y.address, 'en', { numeric: true }))
      : []
  const srv =
    srvAnswer.kind === 'records'
      ? [...srvAnswer.records].sort((x, y) => x.target.localeCompare(y.target, 'en', { numeric: true }))
      : []
  // An ExternalName service is a CNAME; its target may not resolve here at all, so look for
  // the CNAME on every search candidate when the addresses said nothing.
  let cname: string | undefined
  for (const candidate of fqdn ? [fqdn] : client.candidates(service)) {
    cname = await client.cname(candidate).catch((error: unknown) => {
      if ((error as { code?: unknown }).code === 'ECANCELLED') throw error
      return undefined
    })
    signal?.throwIfAborted()
    if (cname) {
      fqdn = candidate
      break
    }
  }

  const endpoints: DiagnosedEndpoint[] = []
  if (srv.length > 0) {
    const targets = await Promise.all(
      [...new Set(srv.map((r) => r.target))].map(
        async (t) => [t, await client.addresses(t, family)] as const,
      ),
    )
    signal?.throwIfAborted()
    const byTarget = new Map<string, Answer<AddressRecord>>(targets)
    for (const record of srv) {
      const answer = byTarget.get(record.target)
      if (!answer || answer.kind === 'empty') continue
      const label = firstLabel(record.target)
      const isPod = record.target !== fqdn && !isDashedIpLabel(label)
      const ordinal = isPod ? ordinalOf(label) : undefined
      for (const a of answer.records) {
        endpoints.push({
          ...a,
          port: record.port,
          priority: record.priority,
          weight: record.weight,
          target: record.target,
          ...(isPod ? { name: label } : {}),
          ...(ordinal === undefined ? {} : { ordinal }),
        })
      }
    }
    endpoints.sort(
      (x, y) =>
        (x.ordinal ?? Number.MAX_SAFE_INTEGER) - (y.ordinal ?? Number.MAX_SAFE_INTEGER) ||
        (x.target ?? '').localeCompare(y.target ?? '') ||
        x.address.localeCompare(y.address, 'en', { numeric: true }),
    )
  } else {
    for (const a of addresses) endpoints.push({ ...a, ...(options.port ? { port: options.port } : {}) })
  }

  const addressQuery = addressAnswer.query
  const srvQuery = srvAnswer.query
  const base = { service, fqdn, addressQuery, addresses, srvQuery, srv, cname, endpoints }
  const name = fqdn ?? service

  if (cname !== undefined) {
    return {
      ...base,
      case: 'externalName',
      summary: `ExternalName service: ${fqdn} is a CNAME to ${cname}${addresses.length ? ` (${addresses.length} address(es))` : ''}.`,
      advice:
        'There are no pods behind it in this cluster: client-side balancing applies only to what the external name resolves to. ' +
        'Point headless-lb at the external name directly if it lists several addresses.',
      exitCode: 1,
    }
  }
  if (addresses.length === 0 && endpoints.length === 0) {
    return {
      ...base,
      case: 'no-ready-pods',
      summary: `No ready pods: DNS has no address for ${service} (${addressAnswer.kind === 'empty' ? addressAnswer.code : 'no records'}).`,
      advice:
        'A headless service with no ready endpoints has no records (NXDOMAIN), as does a service that does not exist. ' +
        `Check \`kubectl get endpointslices -l kubernetes.io/service-name=${firstLabel(name)}\` and the pods' readiness probes.`,
      exitCode: 1,
    }
  }
  if (fqdn !== undefined && srv.some((r) => r.target === fqdn)) {
    return {
      ...base,
      case: 'clusterIP',
      summary: `ClusterIP service: one virtual IP (${addresses.map((a) => a.address).join(', ')}); SRV points at the service name itself.`,
      advice:
        'Client-side balancing has no effect: every connection goes to the VIP and kube-proxy picks a pod per connection. ' +
        'Fix: set `clusterIP: None` in the Service spec (a headless service) so DNS lists the pods.',
      exitCode: 1,
    }
  }
  if (srv.length === 0 && addresses.length === 1) {
    return {
      ...base,
      case: 'clusterIP',
      summary: `One address (${addresses[0]!.address}) and no SRV record ${srvQuery}: most likely a ClusterIP service (or a headless service with a single ready pod).`,
      advice:
        'If it is a ClusterIP service, client-side balancing has no effect; fix: `clusterIP: None`. ' +
        'Pass --port-name with one of the service port names to tell the two apart.',
      exitCode: 1,
    }
  }
  if (fqdn !== undefined && named(srv, fqdn)) {
    const names = endpoints.filter((e) => e.name).map((e) => e.name)
    return {
      ...base,
      case: 'headless-statefulset',
      summary: `Headless service over a StatefulSet: ${endpoints.length} pod address(es) with stable names (${names.join(', ')}).`,
      advice:
        `Client-side balancing works, and each pod is addressable by name (${endpoints.find((e) => e.target)?.target}), ` +
        'so roles (primary/replica) can be pinned to pods.',
      exitCode: 0,
    }
  }
  return {
    ...base,
    case: 'headless-deployment',
    summary: `Headless service over a Deployment: ${endpoints.length} pod address(es), no stable pod names${srv.length > 0 ? ' (SRV targets are dashed-IP names)' : ''}.`,
    advice:
      'Client-side balancing works; pods are known by address, so a restarted pod is a new endpoint. ' +
      'Use a StatefulSet (with serviceName) if clients must address pods by name.',
    exitCode: 0,
  }
}

function pad(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)))
  return rows.map((r) =>
    r
      .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd(),
  )
}

export function renderDiagnosis(d: Diagnosis, servers: string): string {
  const lines: string[] = []
  const asked = d.fqdn && d.fqdn !== canonicalName(d.service) ? ` (asked as "${d.service}")` : ''
  lines.push(`Service: ${d.fqdn ?? d.service}${asked}, DNS ${servers}`)
  lines.push(`Case:    ${d.summary}`)
  lines.push(`Advice:  ${d.advice}`)
  if (d.cname) lines.push(`CNAME:   ${d.fqdn} -> ${d.cname}`)
  lines.push('')
  lines.push(
    `${d.addressQuery}: ${d.addresses.length === 0 ? 'no records' : d.addresses.map((a) => `${a.address} (TTL ${a.ttl}s)`).join(', ')}`,
  )
  lines.push(
    `${d.srvQuery}: ${d.srv.length === 0 ? 'no records' : d.srv.map((r) => `${r.target}:${r.port}`).join(', ')}`,
  )
  if (d.endpoints.length > 0) {
    lines.push('')
    lines.push('Endpoints:')
    const rows = [['NAME', 'ADDRESS', 'PORT', 'PRIO', 'WEIGHT', 'TTL', 'TARGET']]
    for (const e of d.endpoints) {
      rows.push([
        e.name ?? '-',
        e.address,
        e.port === undefined ? '-' : String(e.port),
        e.priority === undefined ? '-' : String(e.priority),
        e.weight === undefined ? '-' : String(e.weight),
        `${e.ttl}s`,
        e.target ?? '-',
      ])
    }
    for (const row of pad(rows)) lines.push(`  ${row}`)
  }
  return `${lines.join('\n')}\n`
}
