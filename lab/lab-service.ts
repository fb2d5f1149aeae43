/**
 * One lab service: its pods (named as Kubernetes names them), its ClusterIP proxy if it has a
 * VIP, and its part of the cluster description that DNS records are generated from.
 */
import { randomInt } from 'node:crypto'
import type { LabService, ServiceKind, ServicePortSpec } from './api.js'
import { ClusterIpProxy } from './cluster-ip-proxy.js'
import type { PortDescription, ServiceDescription } from './dns-records.js'
import { Pod, type PodHost } from './lab-pod.js'

/** What a service needs from its lab. */
export interface ServiceHost {
  readonly zone: string
  readonly podPort: number
  takePodAddress(): string
  releasePodAddress(ip: string): void
  takeVip(): string
  releaseVip(ip: string): void
  syncDns(): Promise<void>
  blackhole(pod: Pod, on: boolean): Promise<void>
  isBlackholed(pod: Pod): boolean
}

/** A validated ServiceSpec with defaults applied. */
export interface ResolvedServiceSpec {
  readonly name: string
  readonly namespace: string
  readonly kind: ServiceKind
  readonly statefulSet: boolean
  readonly replicas: number
  readonly port: number
  readonly ports: ReadonlyArray<Required<ServicePortSpec>>
  readonly externalName: string | undefined
  readonly ipv6: boolean
  readonly servePods: boolean
  readonly app: 'http' | 'grpc'
  /** Explicit pod addresses (DNS-only services), handed out in pod order. */
  readonly podIps: ReadonlyArray<string> | undefined
}

// Kubernetes' alphabet for generated name suffixes (no vowels, no confusable characters).
const SUFFIX_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789'

function suffix(length: number): string {
  let s = ''
  for (let i = 0; i < length; i++) s += SUFFIX_ALPHABET[randomInt(SUFFIX_ALPHABET.length)]
  return s
}

export class Service implements LabService {
  readonly spec: ResolvedServiceSpec
  readonly fqdn: string
  readonly #host: ServiceHost
  readonly #pods: Pod[] = []
  readonly #podHost: PodHost
  /** A Deployment's ReplicaSet hash: `<name>-<hash>-<suffix>` pod names. */
  readonly #templateHash = suffix(10)
  /** Addresses of spec.podIps held by a pod now. */
  readonly #pinnedInUse = new Set<string>()
  #proxy: ClusterIpProxy | undefined
  #clusterIP: string | undefined
  #removed = false

  constructor(host: ServiceHost, spec: ResolvedServiceSpec) {
    this.#host = host
    this.spec = spec
    this.fqdn = `${spec.name}.${spec.namespace}.svc.${host.zone}`
    this.#podHost = {
      serviceFqdn: this.fqdn,
      statefulSet: spec.statefulSet,
      servePods: spec.servePods,
      ipv6: spec.ipv6,
      app: spec.app,
      takeAddress: () => (spec.podIps ? this.#takePinned() : spec.ipv6 ? '::1' : host.takePodAddress()),
      releaseAddress: (ip) => {
        if (spec.podIps) this.#pinnedInUse.delete(ip)
        else if (!spec.ipv6) host.releasePodAddress(ip)
      },
      syncDns: () => this.#syncDns(),
      blackhole: (pod, on) => host.blackhole(pod, on),
      isBlackholed: (pod) => host.isBlackholed(pod),
    }
  }

  get name(): string {
    return this.spec.name
  }

  get namespace(): string {
    return this.spec.namespace
  }

  get kind(): ServiceKind {
    return this.spec.kind
  }

  /** clusterIP: the VIP's port (the first named port); otherwise the pods' container port (IPv6 pods each have their own, see pod.port). */
  get port(): number {
    return this.#proxy?.port ?? this.spec.port
  }

  get clusterIP(): string | undefined {
    return this.#clusterIP
  }

  get pods(): ReadonlyArray<Pod> {
    return [...this.#pods]
  }

  pod(name: string): Pod {
    const pod = this.#pods.find((p) => p.name === name)
    if (!pod) {
      throw new RangeError(
        `service ${this.fqdn} has no pod ${JSON.stringify(name)} (pods: ${this.#pods.map((p) => p.name).join(', ') || 'none'})`,
      )
    }
    return pod
  }

  /** Starts pods and the VIP (no DNS: the lab publishes after). */
  async start(): Promise<void> {
    await this.#addPods(this.spec.replicas)
    if (this.spec.kind === 'clusterIP') await this.#startProxy()
  }

  async #startProxy(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const vip = this.spec.ipv6 ? '::1' : this.#host.takeVip()
      const proxy = new ClusterIpProxy({
        address: vip,
        // The service port (the first named port), forwarding to the pods' container port.
        port: this.spec.ipv6 ? 0 : this.spec.ports[0]!.port,
        backends: () => this.#pods.filter((p) => p.ready).map((p) => ({ host: p.ip, port: p.port })),
      })
      try {
        await proxy.listen()
        this.#proxy = proxy
        this.#clusterIP = vip
        return
      } catch (error) {
        await proxy.close()
        if (!this.spec.ipv6) this.#host.releaseVip(vip)
        if ((error as { code?: string }).code !== 'EADDRINUSE' || attempt >= 20) throw error
      }
    }
  }

  /** The first of spec.podIps no pod holds: pods are created in order, so `<name>-i` gets podIps[i]. */
  #takePinned(): string {
    const ip = this.spec.podIps?.find((a) => !this.#pinnedInUse.has(a))
    if (ip === undefined) {
      throw new RangeError(
        `service ${this.fqdn}: every address of spec.podIps (${this.spec.podIps?.join(', ')}) is taken`,
      )
    }
    this.#pinnedInUse.add(ip)
    return ip
  }

  #newPodName(): string {
    if (this.spec.statefulSet) return `${this.spec.name}-${this.#pods.length}`
    for (;;) {
      const name = `${this.spec.name}-${this.#templateHash}-${suffix(5)}`
      if (!this.#pods.some((p) => p.name === name)) return name
    }
  }

  async #addPods(count: number): Promise<void> {
    const added: Pod[] = []
    for (let i = 0; i < count; i++) {
      const pod = new Pod(this.#podHost, this.#newPodName(), this.spec.port)
      this.#pods.push(pod)
      added.push(pod)
    }
    await Promise.all(added.map((p) => p.start()))
  }

  async scale(replicas: number): Promise<void> {
    this.#assertLive()
    if (this.spec.kind === 'externalName')
      throw new TypeError(`service ${this.fqdn} is externalName: it has no pods`)
    if (!Number.isInteger(replicas) || replicas < 0 || replicas > 200) {
      throw new RangeError(`replicas must be an integer from 0 to 200, got ${replicas}`)
    }
    if (replicas > this.#pods.length) await this.#addPods(replicas - this.#pods.length)
    else {
      // StatefulSets remove the highest ordinals; for Deployments the newest pods go first.
      const gone = this.#pods.splice(replicas)
      await Promise.all(gone.map((p) => p.remove()))
    }
    await this.#syncDns()
  }

  async remove(): Promise<void> {
    if (this.#removed) return
    await this.close()
    await this.#host.syncDns()
  }

  /** Stops pods and the proxy; the lab forgets the service. No DNS change (see remove()). */
  async close(): Promise<void> {
    if (this.#removed) return
    this.#removed = true
    await Promise.all([...this.#pods.map((p) => p.remove()), this.#proxy?.close()])
    if (this.#clusterIP && !this.spec.ipv6) this.#host.releaseVip(this.#clusterIP)
  }

  get removed(): boolean {
    return this.#removed
  }

  #assertLive(): void {
    if (this.#removed) throw new Error(`service ${this.fqdn} was removed`)
  }

  #syncDns(): Promise<void> {
    return this.#host.syncDns()
  }

  /** This service as the DNS record generator sees it. */
  describe(): ServiceDescription {
    const spec = this.spec
    const servicePorts: PortDescription[] = spec.ports.map((p, i) => ({
      name: p.name,
      // The VIP listens on the first port (on ::1 with a port of its own).
      port: this.#proxy && i === 0 ? this.#proxy.port : p.port,
      protocol: p.protocol,
    }))
    return {
      name: spec.name,
      namespace: spec.namespace,
      kind: spec.kind,
      clusterIP: this.#clusterIP,
      externalName: spec.externalName,
      ports: servicePorts,
      endpoints: this.#pods.map((pod) => ({
        ip: pod.ip,
        hostname: pod.dnsHostname,
        ready: pod.ready,
        // The container port; IPv6 pods on ::1 each have their own, published via SRV.
        ports: spec.ports.map((p) => ({
          name: p.name,
          port: p.port === spec.port ? pod.port : p.port,
          protocol: p.protocol,
        })),
      })),
    }
  }
}
