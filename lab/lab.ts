/**
 * The lab: services and pods on loopback addresses, a BIND 9 server publishing them as a
 * Kubernetes cluster DNS would, ClusterIP proxies, and an nftables table for black-holes.
 * Every DNS change goes through one queue and resolves once the server serves it.
 */
import { rmSync } from 'node:fs'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { isIPv4 } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AddressPool } from './address-pool.js'
import type { Lab, LabOptions, LabService, ServiceKind, ServicePortSpec, ServiceSpec } from './api.js'
import { BindServer } from './bind-server.js'
import { clusterRecords } from './dns-records.js'
import { registerExitCleanup } from './exit-cleanup.js'
import { Firewall } from './firewall.js'
import type { Pod } from './lab-pod.js'
import { type ResolvedServiceSpec, Service, type ServiceHost } from './lab-service.js'

/**
 * The DNS server's address. named only listens on addresses configured on an interface (it
 * matches `listen-on` against interface addresses, not routes), and lo has just 127.0.0.1/8;
 * adding 127.0.0.53 would mean changing the host's interface outside the private namespace.
 */
export const DNS_ADDRESS = '127.0.0.1'
const TEMP_PREFIX = 'hlb-lab-'

const DNS_LABEL = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/
const DNS_1123_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/
const ZONE = /^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)*[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/

function checkTtl(path: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 2_147_483_647) {
    throw new RangeError(
      `${path} must be an integer number of seconds from 0 to 2147483647, got ${String(value)}`,
    )
  }
  return value
}

function checkPort(path: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) {
    throw new RangeError(`${path} must be a port from 1 to 65535, got ${String(value)}`)
  }
  return value
}

const KINDS: ReadonlyArray<ServiceKind> = ['headless', 'clusterIP', 'externalName']
const SPEC_KEYS = [
  'name',
  'namespace',
  'kind',
  'workload',
  'replicas',
  'port',
  'ports',
  'externalName',
  'ipv6',
  'servePods',
  'podIps',
  'app',
]

function resolveSpec(spec: ServiceSpec, podPort: number): ResolvedServiceSpec {
  if (typeof spec !== 'object' || spec === null)
    throw new TypeError(`spec must be an object, got ${String(spec)}`)
  for (const key of Object.keys(spec)) {
    if (!SPEC_KEYS.includes(key))
      throw new TypeError(`spec.${key} is not a known option (known: ${SPEC_KEYS.join(', ')})`)
  }
  if (typeof spec.name !== 'string' || !DNS_LABEL.test(spec.name)) {
    throw new TypeError(
      `spec.name must be a DNS-1035 label (lower case, starts with a letter), got ${JSON.stringify(spec.name)}`,
    )
  }
  const namespace = spec.namespace ?? 'default'
  if (typeof namespace !== 'string' || !DNS_1123_LABEL.test(namespace)) {
    throw new TypeError(`spec.namespace must be a DNS-1123 label, got ${JSON.stringify(namespace)}`)
  }
  if (!KINDS.includes(spec.kind))
    throw new TypeError(`spec.kind must be one of ${KINDS.join(', ')}, got ${JSON.stringify(spec.kind)}`)
  const workload = spec.workload ?? (spec.kind === 'headless' ? 'statefulset' : 'deployment')
  if (workload !== 'statefulset' && workload !== 'deployment') {
    throw new TypeError(
      `spec.workload must be 'statefulset' or 'deployment', got ${JSON.stringify(workload)}`,
    )
  }
  const podIps = resolvePodIps(spec)
  let replicas = spec.replicas ?? podIps?.length ?? 3
  if (podIps && replicas > podIps.length) {
    throw new RangeError(
      `spec.replicas must be at most the number of spec.podIps (${podIps.length}), got ${String(replicas)}`,
    )
  }
  if (!Number.isInteger(replicas) || replicas < 0 || replicas > 200) {
    throw new RangeError(`spec.replicas must be an integer from 0 to 200, got ${String(replicas)}`)
  }
  if (spec.kind === 'externalName') {
    if (
      typeof spec.externalName !== 'string' ||
      !ZONE.test(spec.externalName.replace(/\.$/, '').toLowerCase())
    ) {
      throw new TypeError(
        `spec.externalName must be a domain name for an externalName service, got ${JSON.stringify(spec.externalName)}`,
      )
    }
    replicas = 0
  }
  const port = spec.port === undefined ? podPort : checkPort('spec.port', spec.port)
  if (spec.ports !== undefined && (!Array.isArray(spec.ports) || spec.ports.length === 0)) {
    throw new TypeError(
      `spec.ports must be a non-empty array of named ports, got ${JSON.stringify(spec.ports)}`,
    )
  }
  const app = spec.app ?? 'http'
  if (app !== 'http' && app !== 'grpc') {
    throw new TypeError(`spec.app must be 'http' or 'grpc', got ${JSON.stringify(spec.app)}`)
  }
  const ports: Array<Required<ServicePortSpec>> = (spec.ports ?? [{ name: app, port }]).map((p, i) => {
    if (typeof p.name !== 'string' || !/^[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$/.test(p.name)) {
      throw new TypeError(
        `spec.ports[${i}].name must be an IANA-style port name (lower case, up to 15 characters), got ${JSON.stringify(p.name)}`,
      )
    }
    const protocol = p.protocol ?? 'tcp'
    if (protocol !== 'tcp' && protocol !== 'udp') {
      throw new TypeError(`spec.ports[${i}].protocol must be 'tcp' or 'udp', got ${JSON.stringify(protocol)}`)
    }
    return { name: p.name, port: checkPort(`spec.ports[${i}].port`, p.port), protocol }
  })
  return {
    name: spec.name,
    namespace,
    kind: spec.kind,
    statefulSet: workload === 'statefulset',
    replicas,
    port,
    ports,
    externalName: spec.externalName,
    ipv6: spec.ipv6 ?? false,
    servePods: spec.servePods ?? true,
    app,
    podIps,
  }
}

/** Explicit pod addresses: only for DNS-only IPv4 services (the lab serves nothing on them). */
function resolvePodIps(spec: ServiceSpec): ReadonlyArray<string> | undefined {
  if (spec.podIps === undefined) return undefined
  if (spec.servePods !== false || spec.ipv6 === true || spec.kind === 'externalName') {
    throw new TypeError(
      'spec.podIps needs servePods: false on an IPv4 headless or clusterIP service (the lab serves nothing on those addresses)',
    )
  }
  if (!Array.isArray(spec.podIps) || spec.podIps.length === 0) {
    throw new TypeError(
      `spec.podIps must be a non-empty array of addresses, got ${JSON.stringify(spec.podIps)}`,
    )
  }
  spec.podIps.forEach((ip, i) => {
    if (typeof ip !== 'string' || !isIPv4(ip) || !ip.startsWith('127.')) {
      throw new TypeError(
        `spec.podIps[${i}] must be an IPv4 loopback address (127.x.x.x), got ${JSON.stringify(ip)}`,
      )
    }
  })
  if (new Set(spec.podIps).size !== spec.podIps.length) {
    throw new TypeError(`spec.podIps must not repeat an address, got ${JSON.stringify(spec.podIps)}`)
  }
  return [...spec.podIps]
}

/** Removes temp dirs of earlier labs whose process is gone (killed before any clean-up could run). */
async function sweepStaleDirs(): Promise<void> {
  const entries = await readdir(tmpdir()).catch(() => [] as string[])
  await Promise.all(
    entries.map(async (entry) => {
      const match = /^hlb-lab-(\d+)-/.exec(entry)
      if (!match) return
      const pid = Number(match[1])
      if (pid === process.pid) return
      try {
        process.kill(pid, 0)
        return // still alive
      } catch (error) {
        if ((error as { code?: string }).code !== 'ESRCH') return
      }
      await rm(join(tmpdir(), entry), { recursive: true, force: true }).catch(() => {})
    }),
  )
}

export class LabImpl implements Lab {
  readonly zone: string
  readonly #podPort: number
  #ttl: number
  readonly #dir: string
  readonly #bind: BindServer
  readonly #firewall: Firewall
  readonly #pods = new AddressPool('127.0.10.')
  readonly #vips = new AddressPool('127.0.11.')
  readonly #services = new Map<string, Service>()
  readonly #serviceHost: ServiceHost
  #dnsQueue: Promise<unknown> = Promise.resolve()
  #unregisterExit: () => void
  #closing: Promise<void> | undefined
  /** Change-to-served times of the DNS updates (ms), newest last; for measurements. */
  readonly dnsChangeTimes: number[] = []

  private constructor(dir: string, zone: string, ttl: number, podPort: number) {
    this.#dir = dir
    this.zone = zone
    this.#ttl = ttl
    this.#podPort = podPort
    this.#bind = new BindServer({ address: DNS_ADDRESS, zone, dir })
    this.#firewall = new Firewall()
    this.#unregisterExit = registerExitCleanup(() => {
      // The bind server and firewall register their own handlers; the dir goes last.
      removeDirSync(dir)
    })
    this.#serviceHost = {
      zone,
      podPort,
      takePodAddress: () => this.#pods.take(),
      releasePodAddress: (ip) => this.#pods.release(ip),
      takeVip: () => this.#vips.take(),
      releaseVip: (ip) => this.#vips.release(ip),
      syncDns: () => this.#syncDns(),
      blackhole: (pod, on) => this.#blackhole(pod, on),
      isBlackholed: (pod) => this.#firewall.isBlocked(podKey(pod)),
    }
  }

  static async start(options: LabOptions = {}): Promise<LabImpl> {
    if (typeof options !== 'object' || options === null)
      throw new TypeError(`options must be an object, got ${String(options)}`)
    for (const key of Object.keys(options)) {
      if (!['ttl', 'zone', 'podPort'].includes(key))
        throw new TypeError(`options.${key} is not a known option (known: ttl, zone, podPort)`)
    }
    const ttl = checkTtl('options.ttl', options.ttl ?? 5)
    const zone = (options.zone ?? 'cluster.local').replace(/\.$/, '').toLowerCase()
    if (!ZONE.test(zone))
      throw new TypeError(`options.zone must be a domain name, got ${JSON.stringify(options.zone)}`)
    const podPort = checkPort('options.podPort', options.podPort ?? 8080)
    await sweepStaleDirs()
    const dir = await mkdtemp(join(tmpdir(), `${TEMP_PREFIX}${process.pid}-`))
    const lab = new LabImpl(dir, zone, ttl, podPort)
    try {
      await lab.#bind.start(lab.#records())
    } catch (error) {
      await lab.close()
      throw error
    }
    return lab
  }

  get dnsServer(): string {
    return this.#bind.server
  }

  get blackholeSupport(): { readonly supported: boolean; readonly reason: string } {
    return this.#firewall.support
  }

  /** The lab's temp dir (named's config, zone and journal). */
  get dir(): string {
    return this.#dir
  }

  #records() {
    return clusterRecords({
      zone: this.zone,
      ttl: this.#ttl,
      dnsAddress: DNS_ADDRESS,
      services: [...this.#services.values()].filter((s) => !s.removed).map((s) => s.describe()),
    })
  }

  /** Publishes the current state; resolves once the server serves it. Changes apply in call order. */
  #syncDns(): Promise<void> {
    const run = this.#dnsQueue.then(async () => {
      if (this.#closing) return
      const ms = await this.#bind.apply(this.#records())
      if (ms > 0) {
        this.dnsChangeTimes.push(ms)
        if (this.dnsChangeTimes.length > 1000) this.dnsChangeTimes.splice(0, 500)
      }
    })
    this.#dnsQueue = run.catch(() => {})
    return run
  }

  #assertOpen(): void {
    if (this.#closing) throw new Error('the lab is closed')
  }

  async addService(spec: ServiceSpec): Promise<LabService> {
    this.#assertOpen()
    const resolved = resolveSpec(spec, this.#podPort)
    const key = `${resolved.namespace}/${resolved.name}`
    if (this.#services.get(key)?.removed === false)
      throw new Error(`service ${resolved.name} already exists in namespace ${resolved.namespace}`)
    const service = new Service(this.#serviceHost, resolved)
    // Reserve the name before the awaits, so a concurrent addService of the same name fails.
    this.#services.set(key, service)
    try {
      await service.start()
      await this.#syncDns()
    } catch (error) {
      await service.close()
      if (this.#services.get(key) === service) this.#services.delete(key)
      throw error
    }
    return service
  }

  service(name: string, namespace = 'default'): LabService {
    const service = this.#services.get(`${namespace}/${name}`)
    if (!service || service.removed) {
      throw new RangeError(
        `the lab has no service ${name} in namespace ${namespace} (have: ${[...this.#services.keys()].join(', ') || 'none'})`,
      )
    }
    return service
  }

  async setTtl(seconds: number): Promise<void> {
    this.#assertOpen()
    this.#ttl = checkTtl('ttl', seconds)
    await this.#syncDns()
  }

  async stopDns(): Promise<void> {
    this.#assertOpen()
    await this.#dnsQueue
    await this.#bind.stop()
  }

  async startDns(): Promise<void> {
    this.#assertOpen()
    await this.#dnsQueue
    await this.#bind.start(this.#records())
  }

  async #blackhole(pod: Pod, on: boolean): Promise<void> {
    await this.#firewall.set(podKey(pod), on ? { ip: pod.ip, port: pod.port } : undefined)
  }

  close(): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  async #close(): Promise<void> {
    const errors: unknown[] = []
    const step = async (work: () => Promise<unknown>): Promise<void> => {
      try {
        await work()
      } catch (error) {
        errors.push(error)
      }
    }
    await step(() => this.#dnsQueue)
    await step(() => Promise.all([...this.#services.values()].map((s) => s.close())))
    this.#services.clear()
    await step(() => this.#bind.close())
    await step(() => this.#firewall.close())
    await step(() => rm(this.#dir, { recursive: true, force: true }))
    this.#unregisterExit()
    if (errors.length > 0) throw new AggregateError(errors, 'the lab did not close cleanly')
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

function podKey(pod: Pod): string {
  return pod.uid
}

function removeDirSync(dir: string): void {
  try {
    // Synchronous: this runs on process exit.
    rmSync(dir, { recursive: true, force: true })
  } catch {}
}
