// Shared by the HTTP benchmarks: start the pods process, drive closed-loop load, summarise.
import { type ChildProcess, fork } from 'node:child_process'
import diagnostics from 'node:diagnostics_channel'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { Agent, BalancedPool, type Dispatcher } from 'undici'
import type { PodFault } from '../lab/api.js'
import {
  type AttemptEvent,
  type BalancerName,
  createClient,
  type EjectEvent,
  type StallEvent,
} from '../src/index.js'
import { seededRandom } from '../test/support/seeded-random.js'

export interface PodInfo {
  readonly name: string
  readonly ip: string
  readonly port: number
}

export type PodsService = 'web' | 'vip'

export interface PodsProcess {
  /** The pods process's pid (to pin it to a CPU). */
  readonly pid: number
  /** `host:port` of the lab's DNS server. */
  readonly dnsServer: string
  /** FQDN of the headless service over the pods. */
  readonly service: string
  /** The headless service's pods, at the start. */
  readonly pods: ReadonlyArray<PodInfo>
  /** A ClusterIP service over as many pods of its own: the per-connection proxy baseline. */
  readonly vip: {
    readonly fqdn: string
    readonly ip: string
    readonly port: number
    readonly pods: ReadonlyArray<PodInfo>
  }
  readonly blackholeSupport: { readonly supported: boolean; readonly reason: string }
  /** Kills pod `pod` (an index) of the headless service (or of the VIP's, with `service: 'vip'`). */
  kill(pod: number, service?: PodsService): Promise<void>
  /** Drops the packets of a pod (or lets them through again, `on: false`). */
  blackhole(pod: number, on: boolean, service?: PodsService): Promise<void>
  /** Sets a headless pod's fault (the lab's: slow, errors, hang, none); resolves once it is in place. */
  fault(name: string, fault: PodFault): Promise<void>
  /** Scales a service (pods added or removed at once, DNS updated); resolves with its pods then. */
  scale(replicas: number, service?: PodsService): Promise<ReadonlyArray<PodInfo>>
  stop(): Promise<void>
}

/** Starts the lab's process (bench/http-pods.ts): `count` pods per service, records at `ttl` seconds. */
export async function startPods(count: number, options: { ttl?: number } = {}): Promise<PodsProcess> {
  const child: ChildProcess = fork(
    fileURLToPath(new URL('./http-pods.ts', import.meta.url)),
    [String(count), String(options.ttl ?? 5)],
    {
      execArgv: process.execArgv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  )
  const [message] = (await once(child, 'message')) as [
    { ready: Omit<PodsProcess, 'pid' | 'kill' | 'blackhole' | 'fault' | 'scale' | 'stop'> },
  ]
  let nextId = 1
  type Pods = Record<PodsService, PodInfo[]>
  const ask = (body: Record<string, unknown>): Promise<Pods> => {
    const id = nextId++
    return new Promise((resolve) => {
      const onMessage = (m: { id?: number; pods?: Pods }) => {
        if (m.id !== id) return
        child.off('message', onMessage)
        resolve(m.pods!)
      }
      child.on('message', onMessage)
      child.send({ id, ...body })
    })
  }
  return {
    ...message.ready,
    pid: child.pid!,
    async kill(pod, service = 'web') {
      await ask({ kill: { service, pod } })
    },
    async blackhole(pod, on, service = 'web') {
      await ask({ blackhole: { service, pod, on } })
    },
    async fault(name, fault) {
      await ask({ fault: { name, fault } })
    },
    async scale(replicas, service = 'web') {
      return (await ask({ scale: { service, replicas } }))[service]
    },
    async stop() {
      if (child.exitCode !== null) return
      child.send({ stop: true })
      await once(child, 'exit')
    },
  }
}

export interface LoopResult {
  readonly ok: number
  readonly failed: number
  readonly errors: Map<string, number>
}

/** Runs `concurrency` loops of `once()` for `ms`; returns completed and failed counts. */
export function closedLoop(concurrency: number, ms: number, once: () => Promise<void>): Promise<LoopResult> {
  const end = performance.now() + ms
  return loopWhile(concurrency, () => performance.now() < end, once)
}

/**
 * Runs `concurrency` loops of `once()` until `total` calls have started; returns completed and
 * failed counts. A fixed amount of work, for a run whose cost is counted rather than timed (under
 * valgrind, bench/http-instructions.ts).
 */
export function countedLoop(
  concurrency: number,
  total: number,
  once: () => Promise<void>,
): Promise<LoopResult> {
  let started = 0
  return loopWhile(concurrency, () => started++ < total, once)
}

/** `concurrency` loops, each calling `once()` again while `more()` says so. */
async function loopWhile(
  concurrency: number,
  more: () => boolean,
  once: () => Promise<void>,
): Promise<LoopResult> {
  let ok = 0
  let failed = 0
  const errors = new Map<string, number>()
  const worker = async () => {
    while (more()) {
      try {
        await once()
        ok++
      } catch (error) {
        failed++
        const code = String((error as { code?: string }).code ?? (error as Error).message)
        errors.set(code, (errors.get(code) ?? 0) + 1)
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return { ok, failed, errors }
}

/** The `q` quantile (0 to 1) of `values` (sorted in place): the nearest-rank value. */
export function quantile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN
  values.sort((a, b) => a - b)
  return values[Math.min(values.length - 1, Math.max(0, Math.ceil(q * values.length) - 1))] as number
}

export function median(values: ReadonlyArray<number>): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

/**
 * The median of `values` and a bootstrap interval for it: `values` resampled with replacement
 * `rounds` times (a seeded generator: the same samples give the same interval), the `level`
 * central share of the resampled medians. For the paired ratios of a run, whose repetitions swing
 * by several percent on a shared machine: a median alone does not say whether 0.98 is below 1.
 */
export function medianInterval(
  values: ReadonlyArray<number>,
  level = 0.9,
  rounds = 2_000,
): { median: number; low: number; high: number } {
  const random = seededRandom(7)
  const medians: number[] = []
  const resample = new Array<number>(values.length)
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < values.length; i++) resample[i] = values[Math.floor(random() * values.length)]!
    medians.push(median(resample))
  }
  medians.sort((a, b) => a - b)
  const cut = Math.floor(((1 - level) / 2) * rounds)
  return { median: median(values), low: medians[cut]!, high: medians[rounds - 1 - cut]! }
}

/** One client of the scenario benchmarks, as a new user would set it up. */
export interface PeerVariant {
  readonly name: string
  readonly dispatcher: Dispatcher
  readonly origin: string
  /** Which service's pods get this variant's requests. */
  readonly service: PodsService
  /** Calls `sent(ip)` for every request (attempt) dispatched to a pod, where the client can tell (not through the VIP). */
  watch?(sent: (ip: string) => void): () => void
  /** headless-lb: attempts taken back unwritten from an endpoint that left rotation, sent elsewhere. */
  moved?(): number
  /** headless-lb: calls `left(ip, how)` when the pool stalls or ejects an endpoint. */
  rotation?(left: (ip: string, how: 'stalled' | 'ejected') => void): () => void
  /** Ends at once: requests stuck on a black-holed pod fail (close() would wait for them). */
  destroy(): Promise<void>
}

export type PeerName = 'defaults' | BalancerName | 'BalancedPool' | 'ClusterIP'
export const PEER_NAMES: ReadonlyArray<PeerName> = [
  'defaults',
  'round-robin',
  'random',
  'least-request',
  'peak-ewma',
  'BalancedPool',
  'ClusterIP',
]

/**
 * headless-lb with the README's `createClient({ origin, dns })` and nothing else (`defaults`),
 * the same with one balancer set, undici's BalancedPool over the pods' addresses as listed at
 * the start (a static list, as a user would write it), and an undici Agent through the
 * ClusterIP proxy (a backend per connection, as kube-proxy); undici's own defaults for both.
 */
export function peerVariant(name: PeerName, lab: PodsProcess): PeerVariant {
  if (name === 'BalancedPool') {
    const origins = lab.pods.map((p) => `http://${p.ip}:${p.port}`)
    const pool = new BalancedPool(origins)
    return {
      name: 'undici BalancedPool',
      dispatcher: pool,
      origin: origins[0]!,
      service: 'web',
      watch(sent) {
        // BalancedPool's requests carry the pod's address as their origin.
        const onCreate = (message: unknown) =>
          sent(new URL((message as { request: { origin: string } }).request.origin).hostname)
        diagnostics.subscribe('undici:request:create', onCreate)
        return () => diagnostics.unsubscribe('undici:request:create', onCreate)
      },
      destroy: () => pool.destroy(),
    }
  }
  if (name === 'ClusterIP') {
    const agent = new Agent()
    return {
      name: 'ClusterIP proxy',
      dispatcher: agent,
      origin: `http://${lab.vip.ip}:${lab.vip.port}`,
      service: 'vip',
      destroy: () => agent.destroy(),
    }
  }
  const client = createClient({
    origin: `http://${lab.service}:${lab.pods[0]!.port}`,
    dns: { servers: [lab.dnsServer] },
    ...(name === 'defaults' ? {} : { balancer: name }),
  })
  return {
    name: name === 'defaults' ? 'headless-lb defaults' : `headless-lb ${name}`,
    dispatcher: client.dispatcher,
    origin: client.origin,
    service: 'web',
    watch(sent) {
      const onAttempt = (e: AttemptEvent) => sent(e.endpoint.address)
      client.on('attempt', onAttempt)
      return () => client.off('attempt', onAttempt)
    },
    moved: () => client.stats().attemptsMoved,
    rotation(left) {
      const onStall = (e: StallEvent) => {
        if (e.stalled) left(e.endpoint.address, 'stalled')
      }
      const onEject = (e: EjectEvent) => left(e.endpoint.address, 'ejected')
      client.pool.on('stall', onStall)
      client.pool.on('eject', onEject)
      return () => {
        client.pool.off('stall', onStall)
        client.pool.off('eject', onEject)
      }
    },
    destroy: () => client.dispatcher.destroy(),
  }
}

/** A GET / under its own deadline; resolves with the pod that answered (`x-pod`), rejects on a failure or a non-2xx. */
export async function deadlineGet(variant: PeerVariant, deadline: number): Promise<string> {
  const res = await variant.dispatcher.request({
    origin: variant.origin,
    path: '/',
    method: 'GET',
    signal: AbortSignal.timeout(deadline),
  })
  await res.body.dump()
  if (res.statusCode < 200 || res.statusCode > 299)
    throw Object.assign(new Error(`status ${res.statusCode}`), { code: `status ${res.statusCode}` })
  return String(res.headers['x-pod'])
}

/** The code a failure is counted under: the error's string `code` (an abort's DOMException has a numeric one: its name then). */
export function failureCode(error: unknown): string {
  const e = error as { code?: unknown; name?: unknown; message?: unknown }
  return typeof e?.code === 'string' ? e.code : String(e?.name ?? e?.message ?? 'Error')
}
