// Shared by the HTTP benchmarks: start the pods process, drive closed-loop load, summarise.
import { type ChildProcess, fork } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'

export interface PodInfo {
  readonly name: string
  readonly ip: string
  readonly port: number
}

export interface PodsProcess {
  readonly pods: ReadonlyArray<PodInfo>
  kill(name: string): Promise<void>
  stop(): Promise<void>
}

export async function startPods(count: number, port = 8080): Promise<PodsProcess> {
  const child: ChildProcess = fork(
    fileURLToPath(new URL('./http-pods.ts', import.meta.url)),
    [String(count), String(port)],
    {
      execArgv: process.execArgv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  )
  const [ready] = (await once(child, 'message')) as [{ ready: PodInfo[] }]
  return {
    pods: ready.ready,
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

export function median(values: ReadonlyArray<number>): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}
