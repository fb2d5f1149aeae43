// Shared by the gray-failure scenario benchmarks (bench/scenario-*.ts): the pods process
// (bench/scenario-pods.ts), the variants compared side by side, and a closed loop under a
// caller's deadline that records what happened to each request.

import { type ChildProcess, fork } from 'node:child_process'
import diagnostics from 'node:diagnostics_channel'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { Agent, BalancedPool, type Dispatcher } from 'undici'
import type { PodFault } from '../lab/index.js'
import { type AttemptEvent, type BalancerName, createClient } from '../src/index.js'

export interface ScenarioPods {
  readonly dnsServer: string
  readonly service: string
  readonly port: number
  readonly pods: ReadonlyArray<{ readonly name: string; readonly ip: string }>
  readonly vip: { readonly ip: string; readonly port: number }
  readonly blackhole: { readonly supported: boolean; readonly reason: string }
  fault(pod: number, fault: PodFault | { kind: 'blackhole'; on: boolean }): Promise<void>
  /** Requests per pod since the last reset (the variant's own service: headless or VIP pods), and ms since each last got one. */
  counts(): Promise<{ web: number[]; vip: number[]; last: { web: number[]; vip: number[] } }>
  reset(): Promise<void>
  stop(): Promise<void>
}

export async function startScenarioPods(replicas: number): Promise<ScenarioPods> {
  const child: ChildProcess = fork(
    fileURLToPath(new URL('./scenario-pods.ts', import.meta.url)),
    [String(replicas)],
    {
      execArgv: process.execArgv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  )
  const [message] = (await once(child, 'message')) as [
    { ready: Omit<ScenarioPods, 'fault' | 'counts' | 'reset' | 'stop'> },
  ]
  let nextId = 1
  const ask = <T>(body: Record<string, unknown>): Promise<T> => {
    const id = nextId++
    return new Promise<T>((resolve) => {
      const onMessage = (m: { id?: number }) => {
        if (m.id !== id) return
        child.off('message', onMessage)
        resolve(m as T)
      }
      child.on('message', onMessage)
      child.send({ id, ...body })
    })
  }
  return {
    ...message.ready,
    async fault(pod, fault) {
      await ask({ fault: { pod, fault } })
    },
    async counts() {
      const m = await ask<{
        counts: { web: number[]; vip: number[] }
        last: { web: number[]; vip: number[] }
      }>({
        counts: true,
      })
      return { ...m.counts, last: m.last }
    },
    async reset() {
      await ask({ reset: true })
    },
    async stop() {
      if (child.exitCode !== null) return
      child.send({ stop: true })
      await once(child, 'exit')
    },
  }
}

export interface Variant {
  readonly name: string
  readonly dispatcher: Dispatcher
  readonly origin: string
  /** Which pods' counters show this variant's traffic. */
  readonly service: 'web' | 'vip'
  /** Calls `sent(podIndex)` for every attempt sent to a pod, where the variant can tell (not through the VIP). */
  watch?(sent: (pod: number) => void): () => void
  /** Ends at once: requests still stuck on a hung pod fail (close() would wait for them). */
  destroy(): Promise<void>
}

export type VariantName = 'defaults' | BalancerName | 'BalancedPool' | 'ClusterIP'
export const ALL_VARIANTS: ReadonlyArray<VariantName> = [
  'defaults',
  'round-robin',
  'random',
  'least-request',
  'peak-ewma',
  'BalancedPool',
  'ClusterIP',
]

/**
 * The variants as a new user would write them: headless-lb with the README's
 * `createClient({ origin, dns })` and nothing else (`defaults`), the same with one balancer
 * set, undici's BalancedPool over the pod IPs with its defaults, and an undici Agent through the
 * ClusterIP proxy (kube-proxy's per-connection choice) with its defaults.
 */
export function makeVariant(name: VariantName, lab: ScenarioPods): Variant {
  const podIndex = new Map(lab.pods.map((p, i) => [p.ip, i]))
  if (name === 'BalancedPool') {
    const origins = lab.pods.map((p) => `http://${p.ip}:${lab.port}`)
    const pool = new BalancedPool(origins)
    return {
      name: 'undici BalancedPool',
      dispatcher: pool,
      origin: origins[0]!,
      service: 'web',
      watch(sent) {
        const onCreate = (message: unknown) => {
          const i = podIndex.get(
            new URL((message as { request: { origin: string } }).request.origin).hostname,
          )
          if (i !== undefined) sent(i)
        }
        diagnostics.subscribe('undici:request:create', onCreate)
        return () => diagnostics.unsubscribe('undici:request:create', onCreate)
      },
      destroy: () => pool.destroy(),
    }
  }
  if (name === 'ClusterIP') {
    const agent = new Agent()
    return {
      name: 'ClusterIP proxy (undici Agent)',
      dispatcher: agent,
      origin: `http://${lab.vip.ip}:${lab.vip.port}`,
      service: 'vip',
      destroy: () => agent.destroy(),
    }
  }
  const client = createClient({
    origin: `http://${lab.service}:${lab.port}`,
    dns: { servers: [lab.dnsServer], search: [], ndots: 1 },
    ...(name === 'defaults' ? {} : { balancer: name }),
  })
  return {
    name: name === 'defaults' ? 'headless-lb defaults' : `headless-lb ${name}`,
    dispatcher: client.dispatcher,
    origin: client.origin,
    service: 'web',
    watch(sent) {
      const onAttempt = (e: AttemptEvent) => {
        const i = podIndex.get(e.endpoint.address)
        if (i !== undefined) sent(i)
      }
      client.on('attempt', onAttempt)
      return () => client.off('attempt', onAttempt)
    },
    destroy: () => client.dispatcher.destroy(),
  }
}

export interface LoopResult {
  ok: number
  failed: number
  errors: Map<string, number>
  /** Duration of every request, ms (ok or not). */
  latencies: number[]
  /** Sum of the durations of the requests that failed, ms: loop time lost to them. */
  failedMs: number
}

/** `concurrency` closed loops of GET / under a deadline of `deadline` ms each, for `ms`. */
export async function deadlineLoop(
  variant: Variant,
  concurrency: number,
  ms: number,
  deadline: number,
): Promise<LoopResult> {
  const end = performance.now() + ms
  const result: LoopResult = { ok: 0, failed: 0, errors: new Map(), latencies: [], failedMs: 0 }
  const worker = async () => {
    while (performance.now() < end) {
      const started = performance.now()
      const failedBefore = result.failed
      try {
        const res = await variant.dispatcher.request({
          origin: variant.origin,
          path: '/',
          method: 'GET',
          signal: AbortSignal.timeout(deadline),
        })
        await res.body.dump()
        if (res.statusCode === 200) result.ok++
        else {
          result.failed++
          result.errors.set(
            `status ${res.statusCode}`,
            (result.errors.get(`status ${res.statusCode}`) ?? 0) + 1,
          )
        }
      } catch (error) {
        result.failed++
        const code = String((error as { code?: string }).code ?? (error as Error).name)
        result.errors.set(code, (result.errors.get(code) ?? 0) + 1)
      }
      const took = performance.now() - started
      result.latencies.push(took)
      if (result.failed !== failedBefore) result.failedMs += took
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return result
}

export function percentile(values: ReadonlyArray<number>, p: number): number {
  if (values.length === 0) return 0
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

/** Busiest pod's share over its fair share, and pods that got nothing. */
export function skew(counts: ReadonlyArray<number>): { busiest: number; idle: number } {
  const total = counts.reduce((a, b) => a + b, 0)
  if (total === 0) return { busiest: 0, idle: counts.length }
  return {
    busiest: (Math.max(...counts) * counts.length) / total,
    idle: counts.filter((c) => c === 0).length,
  }
}

/** Which variants to run: `--only a,b` or all. */
export function selected(
  only: string | undefined,
  all: ReadonlyArray<VariantName> = ALL_VARIANTS,
): VariantName[] {
  if (only === undefined) return [...all]
  const names = only.split(',') as VariantName[]
  for (const n of names)
    if (!all.includes(n)) throw new TypeError(`--only: unknown variant ${n}; one of ${all.join(', ')}`)
  return names
}
