// Where a benchmark's client CPU time goes: user vs kernel (process.cpuUsage) and by thread
// (Linux's /proc/self/task/<tid>/schedstat: nanoseconds on a CPU, per thread), so the main thread's
// share can be told from V8's workers (parallel scavenges, concurrent marking and compilation),
// which process.cpuUsage() counts as well. Threads are grouped by name (Node 24 names them:
// MainThread, V8Worker, SignalInspector, libuv-worker...). Also the process's read and write
// system calls (/proc/self/io: syscr, syscw), which tell how well socket I/O is batched. Elsewhere
// than Linux, the thread times are empty and the call counts NaN.
import { readdirSync, readFileSync } from 'node:fs'

export interface CpuSnapshot {
  readonly usage: NodeJS.CpuUsage
  /** Nanoseconds on a CPU so far, by thread id. */
  readonly threads: ReadonlyMap<string, { readonly name: string; readonly ns: number }>
  readonly readCalls: number
  readonly writeCalls: number
}

export interface CpuSpent {
  readonly userUs: number
  readonly systemUs: number
  /** Microseconds by thread name, threads that ran between the two snapshots. */
  readonly byThreadUs: Readonly<Record<string, number>>
  readonly readCalls: number
  readonly writeCalls: number
}

export function cpuSnapshot(): CpuSnapshot {
  const threads = new Map<string, { name: string; ns: number }>()
  let tids: string[] = []
  try {
    tids = readdirSync('/proc/self/task')
  } catch {
    // Not Linux: user and system time only.
  }
  for (const tid of tids) {
    try {
      const name = readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim()
      const ns = Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0])
      threads.set(tid, { name, ns })
    } catch {
      // The thread ended while being read.
    }
  }
  const io = ioCounters()
  return {
    usage: process.cpuUsage(),
    threads,
    readCalls: io.syscr ?? Number.NaN,
    writeCalls: io.syscw ?? Number.NaN,
  }
}

export function cpuSince(before: CpuSnapshot, after: CpuSnapshot = cpuSnapshot()): CpuSpent {
  const byThreadUs: Record<string, number> = {}
  for (const [tid, thread] of after.threads) {
    const spent = (thread.ns - (before.threads.get(tid)?.ns ?? 0)) / 1_000
    if (spent > 0) byThreadUs[thread.name] = (byThreadUs[thread.name] ?? 0) + spent
  }
  return {
    userUs: after.usage.user - before.usage.user,
    systemUs: after.usage.system - before.usage.system,
    byThreadUs,
    readCalls: after.readCalls - before.readCalls,
    writeCalls: after.writeCalls - before.writeCalls,
  }
}

function ioCounters(): Record<string, number> {
  try {
    const counters: Record<string, number> = {}
    for (const line of readFileSync('/proc/self/io', 'utf8').split('\n')) {
      const [key, value] = line.split(': ')
      if (key !== undefined && value !== undefined) counters[key] = Number(value)
    }
    return counters
  } catch {
    return {}
  }
}
