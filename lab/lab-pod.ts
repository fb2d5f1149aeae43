/**
 * One pod of a lab service: its identity (name, address, DNS hostname), its readiness (what DNS
 * and the ClusterIP proxy see), and its server (HTTP, or gRPC for `app: 'grpc'`) with faults.
 */
import { randomUUID } from 'node:crypto'
import type { LabPod, PodFault } from './api.js'
import { dashedIp } from './dns-records.js'
import { GrpcPodServer } from './grpc-pod-server.js'
import { PodServer } from './pod-server.js'

/** What a pod needs from its service and lab. */
export interface PodHost {
  /** `<svc>.<ns>.svc.<zone>` */
  readonly serviceFqdn: string
  readonly statefulSet: boolean
  readonly servePods: boolean
  readonly ipv6: boolean
  readonly app: 'http' | 'grpc'
  /** A fresh address for the pod (IPv4: from 127.0.10.x; IPv6: ::1). */
  takeAddress(): string
  releaseAddress(ip: string): void
  /** Re-publishes DNS; resolves once served. */
  syncDns(): Promise<void>
  blackhole(pod: Pod, on: boolean): Promise<void>
  isBlackholed(pod: Pod): boolean
}

const BIND_ATTEMPTS = 20

export class Pod implements LabPod {
  readonly name: string
  /** Unique in the process (pod names repeat across namespaces and labs). */
  readonly uid = randomUUID()
  readonly #host: PodHost
  readonly #server: PodServer | GrpcPodServer
  readonly #basePort: number
  #ip: string
  #port: number
  #ready = true
  #removed = false

  constructor(host: PodHost, name: string, port: number) {
    this.#host = host
    this.name = name
    this.#basePort = port
    this.#port = host.ipv6 && host.servePods ? 0 : port
    this.#ip = host.takeAddress()
    this.#server = host.app === 'grpc' ? new GrpcPodServer({ name }) : new PodServer({ name })
  }

  get ip(): string {
    return this.#ip
  }

  get port(): number {
    return this.#port
  }

  get hostname(): string {
    const label = this.#host.statefulSet ? this.name : dashedIp(this.#ip)
    return `${label}.${this.#host.serviceFqdn}`
  }

  /** The DNS hostname label for StatefulSet pods (spec: the endpoint's `hostname`), else undefined. */
  get dnsHostname(): string | undefined {
    return this.#host.statefulSet ? this.name : undefined
  }

  get ready(): boolean {
    return this.#ready
  }

  get running(): boolean {
    return this.#server.listening
  }

  get requests(): { readonly total: number; readonly byMethod: Readonly<Record<string, number>> } {
    return this.#server.requests
  }

  /** GET /healthz requests (kept out of `requests` so health checking does not skew request counts). */
  get healthChecks(): number {
    return this.#server.healthChecks
  }

  get connections(): { readonly opened: number; readonly closed: number; readonly open: number } {
    return this.#server.connections
  }

  get inFlight(): number {
    return this.#server.inFlight
  }

  get requestIds(): ReadonlyMap<string, number> {
    return this.#server.requestIds
  }

  fault(fault: PodFault): void {
    this.#server.fault(fault)
  }

  resetCounters(): void {
    this.#server.resetCounters()
  }

  /**
   * Starts the HTTP server. IPv4: on the pod's address and the pod port; if another process
   * already holds that address:port (a second lab in the same network namespace), the pod moves
   * to the next free address. IPv6: ::1 with a port of its own (port 0 first time).
   */
  async start(): Promise<void> {
    if (!this.#host.servePods || this.running) return
    for (let attempt = 0; ; attempt++) {
      try {
        this.#port = await this.#server.start(this.#ip, this.#port)
        return
      } catch (error) {
        const code = (error as { code?: string }).code
        if (code !== 'EADDRINUSE' || attempt >= BIND_ATTEMPTS) throw error
        if (this.#host.ipv6) this.#port = 0
        else {
          const taken = this.#ip
          this.#ip = this.#host.takeAddress()
          this.#host.releaseAddress(taken)
        }
      }
    }
  }

  async kill(): Promise<void> {
    await this.#server.stop()
  }

  async restart(options: { newIp?: boolean } = {}): Promise<void> {
    if (this.#removed) throw new Error(`pod ${this.name} was removed`)
    await this.#server.stop()
    // A restarted container is a fresh process: no fault carried over.
    this.#server.fault({ kind: 'none' })
    const blackholed = this.#host.isBlackholed(this)
    const before = `${this.#ip} ${this.#port}`
    if (options.newIp) {
      if (blackholed) await this.#host.blackhole(this, false)
      const old = this.#ip
      this.#ip = this.#host.takeAddress()
      this.#host.releaseAddress(old)
      this.#port = this.#host.ipv6 && this.#host.servePods ? 0 : this.#basePort
    }
    await this.start()
    // The address also moves when another process took it meanwhile (see start()).
    if (`${this.#ip} ${this.#port}` !== before) {
      // The black-hole follows the pod (it is about the pod, not an address it no longer has).
      if (blackholed) await this.#host.blackhole(this, true)
      await this.#host.syncDns()
    }
  }

  async setReady(ready: boolean): Promise<void> {
    if (this.#removed) throw new Error(`pod ${this.name} was removed`)
    this.#ready = ready
    await this.#host.syncDns()
  }

  async blackhole(on = true): Promise<void> {
    await this.#host.blackhole(this, on)
  }

  /** Stops the server and gives the address back (scale-down, service removal, lab close). */
  async remove(): Promise<void> {
    if (this.#removed) return
    this.#removed = true
    await this.#server.stop()
    if (this.#host.isBlackholed(this)) await this.#host.blackhole(this, false).catch(() => {})
    this.#host.releaseAddress(this.#ip)
  }
}
