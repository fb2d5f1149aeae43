/**
 * The lab's contract: a small, real imitation of a cluster's DNS and pods on one machine.
 * `startLab()` (lab/index.ts) returns a `Lab`. Integration tests, benchmarks and the demo
 * use only what is declared here.
 *
 * Addresses: pods live on 127.0.10.x (one port for all pods, as pods share a container port);
 * ClusterIP VIPs on 127.0.11.x; the DNS server (BIND 9) on 127.0.0.1 and a free non-53 port
 * (named only listens on interface addresses, and lo has only 127.0.0.1). See docs/lab.md.
 */

export type ServiceKind = 'headless' | 'clusterIP' | 'externalName'
export type Workload = 'statefulset' | 'deployment'

export interface ServicePortSpec {
  /** Named port, published as SRV `_<name>._<protocol>.<svc>.<ns>.svc.<zone>`. */
  name: string
  port: number
  protocol?: 'tcp' | 'udp'
}

export interface ServiceSpec {
  name: string
  /** Default 'default'. */
  namespace?: string
  kind: ServiceKind
  /** Default 'statefulset' for headless services, 'deployment' otherwise. */
  workload?: Workload
  /** Number of pods to start (names `<name>-0..n-1` for StatefulSets, `<name>-<random>` for Deployments). Default 3. */
  replicas?: number
  /** The pods' container port; default the lab's pod port (8080). */
  port?: number
  /**
   * Named ports for SRV; default [{ name: 'http', port }]. For headless services these are the
   * endpoint ports; for clusterIP services the service ports: the VIP listens on the first one
   * and forwards to the pods' `port`, as a Service's port -> targetPort.
   */
  ports?: ServicePortSpec[]
  /** For externalName services: the CNAME target. */
  externalName?: string
  /** IPv6 pods (AAAA records, pods on ::1 — only one IPv6 loopback exists, so distinct ports). Default false. */
  ipv6?: boolean
  /** Start real servers for the pods. Default true. (false: DNS records only.) */
  servePods?: boolean
  /**
   * What the pods serve: `http` (node:http, the default) or `grpc` (grpc-js servers with the
   * unary `/lab.Echo/Echo`, see grpc-pod-server.ts; default named port `grpc`).
   */
  app?: 'http' | 'grpc'
  /**
   * With `servePods: false`: the pods' addresses, in pod order (`<name>-0` gets the first), for
   * servers the lab does not run itself (PostgreSQL on 127.0.20.x in the primary/replica proof).
   * IPv4 loopback only; `replicas` defaults to their number and may not exceed it.
   */
  podIps?: ReadonlyArray<string>
}

export type PodFault =
  | { kind: 'none' }
  /** Added latency before each response. */
  | { kind: 'slow'; latencyMs: number }
  /** A share (0..1) of responses are 5xx (`status`, default 503). */
  | { kind: 'errors'; ratio: number; status?: number }
  /** Accepts connections, reads requests, never answers. */
  | { kind: 'hang' }

export interface LabPod {
  readonly name: string
  /** Current IP (changes on restart with a new IP). */
  readonly ip: string
  readonly port: number
  /** `<name>.<svc>.<ns>.svc.<zone>` for StatefulSet pods; the dashed-IP name for Deployment pods. */
  readonly hostname: string
  readonly ready: boolean
  readonly running: boolean
  /** Requests this pod has received (counted when the request head arrives), by method. GET /healthz is not counted here (see healthChecks). */
  readonly requests: { readonly total: number; readonly byMethod: Readonly<Record<string, number>> }
  /** Requests to /healthz (answered 200 unless faulted; faults apply to them too). Always 0 on gRPC pods. */
  readonly healthChecks: number
  /** TCP connections the pod's server accepted, and saw closed (by either side), since start or resetCounters(); open now. */
  readonly connections: { readonly opened: number; readonly closed: number; readonly open: number }
  /** Requests (gRPC: calls) being served now. */
  readonly inFlight: number
  /**
   * How many times each value of the `x-request-id` header arrived here (counted with `requests`,
   * when the head arrives, hung pods included). Give every POST a unique id and sum over the
   * service's pods: an id counted twice is a POST that reached a pod twice. Kept across
   * restarts and after the pod is scaled away; cleared by `resetCounters()`.
   */
  readonly requestIds: ReadonlyMap<string, number>
  /** Switch the pod's behaviour at run time. */
  fault(fault: PodFault): void
  /** Close the listener and destroy open sockets: connects are refused. DNS is NOT changed (as a crashed pod whose endpoint is still listed). */
  kill(): Promise<void>
  /** Come back. `newIp: true` moves the pod to a fresh 127.0.10.x address and updates DNS (a rescheduled pod). */
  restart(options?: { newIp?: boolean }): Promise<void>
  /** Mark ready/unready: an unready pod leaves DNS (its server keeps running). Resolves once the DNS server serves the change. */
  setReady(ready: boolean): Promise<void>
  /** Silently drop packets to this pod's address (firewall DROP rule in the private network namespace). Throws LabUnsupportedError where not possible. */
  blackhole(on?: boolean): Promise<void>
  resetCounters(): void
}

export interface LabService {
  readonly name: string
  readonly namespace: string
  /** `<name>.<namespace>.svc.<zone>` */
  readonly fqdn: string
  readonly kind: ServiceKind
  readonly port: number
  /** For clusterIP services: the VIP. */
  readonly clusterIP: string | undefined
  readonly pods: ReadonlyArray<LabPod>
  pod(name: string): LabPod
  /** Add or remove pods (StatefulSets add/remove the highest ordinals). Resolves once DNS serves the change. */
  scale(replicas: number): Promise<void>
  remove(): Promise<void>
}

export interface LabOptions {
  /** Record TTL in seconds. Default 5 (the CoreDNS kubernetes plugin's default). */
  ttl?: number
  /** Default 'cluster.local'. */
  zone?: string
  /** Pods' port. Default 8080. */
  podPort?: number
}

export interface Lab {
  /** `host:port` of the DNS server, for `dns: { servers: [lab.dnsServer] }`. */
  readonly dnsServer: string
  readonly zone: string
  addService(spec: ServiceSpec): Promise<LabService>
  service(name: string, namespace?: string): LabService
  /** Change the TTL of every record (applies to later answers). */
  setTtl(seconds: number): Promise<void>
  /** Stop the DNS server process (queries time out / are refused): a DNS outage. */
  stopDns(): Promise<void>
  /** Start it again with the current records. */
  startDns(): Promise<void>
  /** Whether blackhole() works here, and if not, a one-line reason to print in skips. */
  readonly blackholeSupport: { readonly supported: boolean; readonly reason: string }
  /** Stop everything: pods, DNS server, firewall rules, temp files. Idempotent. */
  close(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}
