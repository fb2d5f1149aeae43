// Shared by the HTTP benchmarks: start the pods process, drive closed-loop load, summarise.
import { type ChildProcess, fork } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import type { PodFault } from '../test/lab/api.js'

export interface PodInfo {
  readonly name: string
  readonly ip: string
  readonly port: number
}

export interface PodsProcess {
  /** `host:port` of the lab's DNS server. */
  readonly dnsServer: string
  /** FQDN of the headless service over the pods. */
  readonly service: string
  readonly pods: ReadonlyArray<PodInfo>
  /** A ClusterIP service over as many pods of its own: the per-connection proxy baseline. */
  readonly vip: { readonly fqdn: string; readonly ip: string; readonly port: number }
  kill(name: string): Promise<void>
  /** Sets a pod's fault (the lab's: slow, errors, hang, none); resolves once it is in place. */
  fault(name: string, fault: PodFault): Promise<void>
  stop(): Promise<void>
}

export async function startPods(count: number): Promise<PodsProcess> {
  const child: ChildProcess = fork(
    fileURLToPath(new URL('./http-pods.ts', import.meta.url)),
    [String(count)],
    {
      execArgv: process.execArgv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  )
  const [message] = (await once(child, 'message')) as [{ ready: Omit<PodsProcess, 'kill' | 'stop'> }]
  /** Sends `message` and resolves at the reply whose `key` names `name`. */
  const ask = (message: object, key: string, name: string): Promise<void> =>
    new Promise<void>((resolve) => {
      const onMessage = (m: Record<string, unknown>) => {
        if (m[key] === name) {
          child.off('message', onMessage)
          resolve()
        }
      }
      child.on('message', onMessage)
      child.send(message)
    })
  return {
    ...message.ready,
    fault: (name, fault) => ask({ fault: { name, fault } }, 'faulted', name),
    async kill(name) {
      const acked = new Promise<void>((resolve) => {
        const onMessage = (m: { killed?: string }) => {
          if (m.killed === name) {
            child.off('message', onMessage)
            resolve()
          }
        }
        child.on('message', onMessage)
      })
      child.send({ kill: name })
      await acked
    },
    async stop() {
      if (child.exitCode !== null) return
      child.send({ stop: true })
      await once(child, 'exit')
    },
  }
}

/** Runs `concurrency` loops of `once()` for `ms`; returns completed and failed counts. */
export async function closedLoop(
  concurrency: number,
  ms: number,
  once: () => Promise<void>,
): Promise<{ ok: number; failed: number; errors: Map<string, number> }> {
  const end = performance.now() + ms
  let ok = 0
  let failed = 0
  const errors = new Map<string, number>()
  const worker = async () => {
    while (performance.now() < end) {
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
