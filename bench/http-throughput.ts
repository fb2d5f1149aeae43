// Throughput of client.request (the defaults, and round-robin, over 4 pods) against a raw undici Pool to one pod,
// undici's BalancedPool over the same 4 pods and a Pool through the lab's ClusterIP proxy (4 pods
// of their own, a backend chosen per connection), with the same total connections, in one run:
// several interleaved repetitions, median requests/s and ratios to the raw Pool.
//
//   npx node --import ./scripts/ts-resolve.mjs bench/http-throughput.ts [--seconds 1] [--reps 5]
//
// Two shapes: 16 connections without pipelining, and 50 connections with pipelining 10
// (balanced variants: 4 x 12 = 48 connections, never more than the raw Pool's).
// The lab (DNS, pods, proxy) runs in a child process (bench/http-pods.ts); the clients run here.
// The client resolves the service through the lab's DNS (SRV), as in a cluster.
// --compare ../other-checkout/src/index.ts: that code's defaults as one more variant (before/after
// in one run: load that comes and goes weighs on both).
// --pin: this process on CPU 0, the pods' on CPU 1 (taskset): on a 2-core machine the scheduler
// otherwise moves both around, and the CPU ratios swing by several percent between runs.
import { execFileSync } from 'node:child_process'
import { resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { GCProfiler } from 'node:v8'
import { BalancedPool, type Dispatcher, Pool } from 'undici'
import { runInPrivateNetwork } from '../lab/private-network.js'
import { createClient } from '../src/index.js'
import { runAcrossProcesses } from './across-processes.js'
import { closedLoop, median, medianInterval, startPods } from './http-bench-support.js'
import { cpuSince, cpuSnapshot } from './thread-cpu.js'

if (!runInPrivateNetwork(fileURLToPath(import.meta.url))) process.exit(0)

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '1' },
    reps: { type: 'string', default: '5' },
    json: { type: 'boolean' },
    // Variants whose name contains one of these (comma-separated), besides the raw Pool.
    only: { type: 'string' },
    // One shape only: `16x1` or `50x10` (connections x pipelining).
    shape: { type: 'string' },
    // Adds variants that isolate where the client's extra CPU goes (see docs/performance.md).
    diagnose: { type: 'boolean' },
    pin: { type: 'boolean' },
    compare: { type: 'string' },
    // Runs the whole benchmark in this many processes, one after another, and summarises the
    // paired ratios across them (see bench/across-processes.ts).
    processes: { type: 'string' },
  },
})
const processes = Number.parseInt(values.processes ?? '1', 10)
if (processes > 1) {
  await summariseAcrossProcesses(processes)
  process.exit(0)
}
const runMs = Number(values.seconds) * 1_000
const reps = Number(values.reps)

const compared =
  values.compare === undefined
    ? undefined
    : ((await import(pathToFileURL(resolve(values.compare)).href)) as typeof import('../src/index.js'))
const podsProcess = await startPods(4)
const pods = podsProcess.pods
if (values.pin) {
  execFileSync('taskset', ['-a', '-p', '-c', '1', String(podsProcess.pid)], { stdio: 'ignore' })
  execFileSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' })
}
const origin = (ip: string, port: number) => `http://${ip}:${port}`

interface Variant {
  readonly name: string
  readonly dispatcher: Dispatcher
  readonly origin: string
  close(): Promise<void>
}

function variants(connections: number, pipelining: number): Variant[] {
  const perPod = Math.floor(connections / pods.length)
  const raw = new Pool(origin(pods[0]!.ip, pods[0]!.port), { connections, pipelining })
  const balanced = new BalancedPool(
    pods.map((p) => origin(p.ip, p.port)),
    { connections: perPod, pipelining },
  )
  const vip = new Pool(origin(podsProcess.vip.ip, podsProcess.vip.port), { connections, pipelining })
  const clientOptions = {
    origin: `http://${podsProcess.service}:${pods[0]!.port}`,
    portName: 'http',
    dns: { servers: [podsProcess.dnsServer], search: [], ndots: 1 },
    balancer: 'round-robin' as const,
    connections: perPod,
    pipelining,
  }
  const client = createClient(clientOptions)
  // The defaults, as a user gets them (peak-EWMA since 0.2): what the targets are about.
  const { balancer: _roundRobin, ...defaultOptions } = clientOptions
  const defaults = createClient(defaultOptions)
  const list: Variant[] = [
    {
      name: 'undici Pool, 1 pod',
      dispatcher: raw,
      origin: origin(pods[0]!.ip, pods[0]!.port),
      close: () => raw.close(),
    },
    {
      name: 'undici BalancedPool, 4 pods',
      dispatcher: balanced,
      origin: origin(pods[0]!.ip, pods[0]!.port),
      close: () => balanced.close(),
    },
    {
      name: 'undici Pool, ClusterIP proxy',
      dispatcher: vip,
      origin: origin(podsProcess.vip.ip, podsProcess.vip.port),
      close: () => vip.close(),
    },
    {
      name: 'headless-lb, round-robin',
      dispatcher: client.dispatcher,
      origin: client.origin,
      close: () => client.close(),
    },
    {
      name: 'headless-lb, defaults',
      dispatcher: defaults.dispatcher,
      origin: defaults.origin,
      close: () => defaults.close(),
    },
  ]
  if (compared !== undefined) {
    const other = compared.createClient(defaultOptions)
    list.push({
      name: 'headless-lb, --compare',
      dispatcher: other.dispatcher,
      origin: other.origin,
      close: () => other.close(),
    })
  }
  if (!values.diagnose) return list
  // The client's default timeouts (headers 10 s, body 30 s) differ, so undici re-arms each
  // connection's timer (a new FastTimer) at every switch between waiting for headers and for the
  // body; the raw Pool's defaults (300 s both) only refresh it.
  const rawTimeouts = new Pool(origin(pods[0]!.ip, pods[0]!.port), {
    connections,
    pipelining,
    headersTimeout: 10_000,
    bodyTimeout: 30_000,
  })
  const sameTimeouts = createClient({ ...clientOptions, timeouts: { headers: 30_000, body: 30_000 } })
  const tenTen = createClient({ ...clientOptions, timeouts: { headers: 10_000, body: 10_000 } })
  const splitTimeouts = createClient({ ...clientOptions, timeouts: { headers: 10_000, body: 30_000 } })
  // Round-robin sends a request to the next pod even when all its connections are busy (it waits
  // in that pod's Pool while another pod's connection idles); least-request picks by in-flight count.
  const leastRequest = createClient({ ...clientOptions, balancer: 'least-request' })
  // Hedging (off by default): what `hedge: true` (delay p99) adds to the defaults.
  const hedged = createClient({ ...defaultOptions, hedge: true })
  list.push(
    {
      name: 'defaults + hedge: true',
      dispatcher: hedged.dispatcher,
      origin: hedged.origin,
      close: () => hedged.close(),
    },
    {
      name: 'Pool, 1 pod, timeouts 10s/30s',
      dispatcher: rawTimeouts,
      origin: origin(pods[0]!.ip, pods[0]!.port),
      close: () => rawTimeouts.close(),
    },
    {
      name: 'client, timeouts 30s/30s',
      dispatcher: sameTimeouts.dispatcher,
      origin: sameTimeouts.origin,
      close: () => sameTimeouts.close(),
    },
    {
      name: 'client, timeouts 10s/10s',
      dispatcher: tenTen.dispatcher,
      origin: tenTen.origin,
      close: () => tenTen.close(),
    },
    {
      name: 'client, timeouts 10s/30s',
      dispatcher: splitTimeouts.dispatcher,
      origin: splitTimeouts.origin,
      close: () => splitTimeouts.close(),
    },
    {
      name: 'client, least-request',
      dispatcher: leastRequest.dispatcher,
      origin: leastRequest.origin,
      close: () => leastRequest.close(),
    },
  )
  return list
}

/** Per request (µs): kernel time, the main thread's time, V8's worker threads' time. */
interface CpuSplit {
  readonly systemUs: number
  readonly mainUs: number
  readonly workersUs: number
  /** read and write system calls per request (socket I/O batching). */
  readonly reads: number
  readonly writes: number
}

/** Requests/s over the run, and the client process's CPU time per request (µs): less sensitive to other load on the machine. */
async function measure(
  v: Variant,
  concurrency: number,
  ms: number,
): Promise<{ rps: number; cpuUs: number; gcUs: number; split: CpuSplit }> {
  const gc = new GCProfiler()
  gc.start()
  const started = performance.now()
  const cpu = cpuSnapshot()
  const result = await closedLoop(concurrency, ms, async () => {
    const res = await v.dispatcher.request({ origin: v.origin, path: '/', method: 'GET' })
    await res.body.dump()
    if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`)
  })
  const spent = cpuSince(cpu)
  let gcUs = 0
  for (const event of gc.stop()?.statistics ?? []) gcUs += event.cost
  if (result.failed > 0) console.error(`${v.name}: ${result.failed} failed`, result.errors)
  return {
    rps: result.ok / ((performance.now() - started) / 1_000),
    cpuUs: (spent.userUs + spent.systemUs) / result.ok,
    // Pause time of the GCs that ran during the sample (main thread), per request.
    gcUs: gcUs / result.ok,
    split: {
      systemUs: spent.systemUs / result.ok,
      mainUs: (spent.byThreadUs.MainThread ?? Number.NaN) / result.ok,
      workersUs: (spent.byThreadUs.V8Worker ?? 0) / result.ok,
      reads: spent.readCalls / result.ok,
      writes: spent.writeCalls / result.ok,
    },
  }
}

const report: Record<string, unknown> = {}
const shapes = (
  [
    [16, 1],
    [50, 10],
  ] as const
).filter(([c, p]) => values.shape === undefined || values.shape === `${c}x${p}`)
for (const [connections, pipelining] of shapes) {
  const made = variants(connections, pipelining)
  const list = made.filter(
    (v, i) => i === 0 || values.only === undefined || values.only.split(',').some((o) => v.name.includes(o)),
  )
  const concurrency = connections * pipelining
  // Warm-up: connections open, JIT warm.
  for (const v of list) await measure(v, concurrency, 300)
  const samples = new Map<string, number[]>(list.map((v) => [v.name, []]))
  const cpuSamples = new Map<string, number[]>(list.map((v) => [v.name, []]))
  const gcSamples = new Map<string, number[]>(list.map((v) => [v.name, []]))
  const splitSamples = new Map<string, CpuSplit[]>(list.map((v) => [v.name, []]))
  for (let rep = 0; rep < reps; rep++) {
    // Rotate the order so that no variant always runs first (or last) in a repetition.
    for (let i = 0; i < list.length; i++) {
      const v = list[(i + rep) % list.length]!
      const m = await measure(v, concurrency, runMs)
      samples.get(v.name)!.push(m.rps)
      cpuSamples.get(v.name)!.push(m.cpuUs)
      gcSamples.get(v.name)!.push(m.gcUs)
      splitSamples.get(v.name)!.push(m.split)
    }
  }
  // All that were made, measured or not (--only): each holds a pool and its DNS refresh timer.
  await Promise.all(made.map((v) => v.close()))
  const rawMedian = median(samples.get(list[0]!.name)!)
  const rawCpu = median(cpuSamples.get(list[0]!.name)!)
  const rawBest = Math.max(...samples.get(list[0]!.name)!)
  const title = `${connections} connections, pipelining ${pipelining} (${concurrency} requests in flight), ${reps} x ${runMs} ms`
  console.log(`\n${title}`)
  console.log(
    `  ${'variant'.padEnd(30)} ${'req/s'.padStart(7)}   ratio  paired   ${'CPU µs/req'.padStart(10)}  CPU ratio  paired  GC µs/req   best  best ratio   samples (req/s)`,
  )
  const rows: Record<string, unknown> = {}
  // Paired: the median over repetitions of the ratio within each one (the variants of a
  // repetition run back to back, so load that comes and goes weighs on both sides of a ratio).
  const paired = (of: Map<string, number[]>, name: string, invert: boolean) => {
    const raw = of.get(list[0]!.name)!
    return median(of.get(name)!.map((x, i) => (invert ? raw[i]! / x : x / raw[i]!)))
  }
  for (const v of list) {
    const m = median(samples.get(v.name)!)
    const cpu = median(cpuSamples.get(v.name)!)
    const gcUs = median(gcSamples.get(v.name)!)
    // Other load on the machine only ever lowers a sample: the best one estimates capacity.
    const best = Math.max(...samples.get(v.name)!)
    rows[v.name] = {
      medianRps: Math.round(m),
      ratioToRawPool: Number((m / rawMedian).toFixed(3)),
      cpuUsPerRequest: Number(cpu.toFixed(1)),
      // Raw Pool's CPU per request over this variant's: the throughput ratio a CPU-bound client would see.
      cpuRatioToRawPool: Number((rawCpu / cpu).toFixed(3)),
      pairedRatioToRawPool: Number(paired(samples, v.name, false).toFixed(3)),
      pairedCpuRatioToRawPool: Number(paired(cpuSamples, v.name, true).toFixed(3)),
      gcUsPerRequest: Number(gcUs.toFixed(2)),
      bestRps: Math.round(best),
      bestRatioToRawPool: Number((best / rawBest).toFixed(3)),
      samples: samples.get(v.name)!.map(Math.round),
    }
    console.log(
      `  ${v.name.padEnd(30)} ${String(Math.round(m)).padStart(7)}   ${(m / rawMedian).toFixed(3)}   ${paired(samples, v.name, false).toFixed(3)}   ${cpu.toFixed(1).padStart(10)}  ${(rawCpu / cpu).toFixed(3)}      ${paired(cpuSamples, v.name, true).toFixed(3)}  ${gcUs.toFixed(2).padStart(9)}  ${String(Math.round(best)).padStart(6)}  ${(best / rawBest).toFixed(3)}   [${samples.get(v.name)!.map(Math.round).join(', ')}]`,
    )
  }
  // Issue 10's comparison, head to head: the defaults against BalancedPool within each repetition
  // (both in the same repetition), with a 90 % bootstrap interval of the median over repetitions.
  const head = list.find((v) => v.name === 'headless-lb, defaults')
  const peer = list.find((v) => v.name === 'undici BalancedPool, 4 pods')
  if (head !== undefined && peer !== undefined) {
    const within = (of: Map<string, number[]>, invert: boolean) => {
      const ours = of.get(head.name)!
      return of.get(peer.name)!.map((theirs, i) => (invert ? theirs / ours[i]! : ours[i]! / theirs))
    }
    const cpu = medianInterval(within(cpuSamples, true))
    const rps = medianInterval(within(samples, false))
    const toRaw = medianInterval(samples.get(head.name)!.map((x, i) => x / samples.get(list[0]!.name)![i]!))
    const show = (m: { median: number; low: number; high: number }) =>
      `${m.median.toFixed(3)} [${m.low.toFixed(3)}, ${m.high.toFixed(3)}]`
    console.log(
      `  defaults vs BalancedPool, paired (median [90 % interval]): CPU ratio ${show(cpu)} (>= 1: the defaults spend no more), req/s ${show(rps)}; defaults' req/s to the raw Pool ${show(toRaw)}`,
    )
    ;(rows as Record<string, unknown>).defaultsVsBalancedPool = { cpu, rps, rpsToRawPool: toRaw }
  }
  // Where each variant's CPU goes (medians of the repetitions, µs per request): the kernel's
  // share, the main thread (JS, undici, Node's I/O), V8's worker threads (GC helpers, concurrent
  // compilation), and per request how much more than the raw Pool on each (paired, per repetition).
  console.log(
    `  CPU split, µs/req:             ${'system'.padStart(7)} ${'main'.padStart(7)} ${'V8 workers'.padStart(10)}  reads writes   paired extra over raw Pool: system / main / workers`,
  )
  const splitOf = (name: string, part: keyof CpuSplit) => splitSamples.get(name)!.map((s) => s[part])
  const extra = (name: string, part: keyof CpuSplit) => {
    const raw = splitOf(list[0]!.name, part)
    return median(splitOf(name, part).map((x, i) => x - raw[i]!))
  }
  for (const v of list) {
    const parts = (['systemUs', 'mainUs', 'workersUs', 'reads', 'writes'] as const).map((part) =>
      median(splitOf(v.name, part)),
    )
    const extras = (['systemUs', 'mainUs', 'workersUs'] as const).map((part) => extra(v.name, part))
    ;(rows[v.name] as Record<string, unknown>).cpuSplitUsPerRequest = {
      system: Number(parts[0]!.toFixed(2)),
      main: Number(parts[1]!.toFixed(2)),
      v8Workers: Number(parts[2]!.toFixed(2)),
      readCalls: Number(parts[3]!.toFixed(3)),
      writeCalls: Number(parts[4]!.toFixed(3)),
    }
    console.log(
      `  ${v.name.padEnd(30)} ${parts[0]!.toFixed(2).padStart(7)} ${parts[1]!.toFixed(2).padStart(7)} ${parts[2]!.toFixed(2).padStart(10)}  ${parts[3]!.toFixed(2).padStart(5)} ${parts[4]!.toFixed(2).padStart(6)}   ${extras.map((x) => (x >= 0 ? '+' : '') + x.toFixed(2)).join(' / ')}`,
    )
  }
  report[title] = rows
}
if (values.json) console.log(JSON.stringify(report))
await podsProcess.stop()

/**
 * --processes N: the benchmark in N processes; per shape and variant, each process's paired
 * medians (CPU and req/s ratios to the raw Pool) and their median, and the same for the defaults
 * against BalancedPool head to head.
 */
async function summariseAcrossProcesses(count: number): Promise<void> {
  const args: string[] = []
  const argv = process.argv.slice(2)
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--processes') i++
    else if (!argv[i]!.startsWith('--processes=') && argv[i] !== '--json') args.push(argv[i]!)
  }
  const reports = await runAcrossProcesses(fileURLToPath(import.meta.url), args, count)
  type Row = { pairedCpuRatioToRawPool: number; pairedRatioToRawPool: number }
  type HeadToHead = Record<'cpu' | 'rps' | 'rpsToRawPool', { median: number }>
  const list = (xs: number[]) => `[${xs.map((x) => x.toFixed(3)).join(', ')}]`
  const summary: Record<string, unknown> = {}
  console.log(`
Across ${count} processes (each value: one process's paired median over its repetitions)`)
  for (const title of Object.keys(reports[0]!)) {
    console.log(`
${title}`)
    const rows = reports.map((r) => r[title] as Record<string, unknown>)
    const shape: Record<string, unknown> = {}
    for (const name of Object.keys(rows[0]!)) {
      if (name === 'defaultsVsBalancedPool') continue
      const cpu = rows.map((r) => (r[name] as Row).pairedCpuRatioToRawPool)
      const rps = rows.map((r) => (r[name] as Row).pairedRatioToRawPool)
      shape[name] = { cpu, rps, cpuMedian: median(cpu), rpsMedian: median(rps) }
      console.log(
        `  ${name.padEnd(30)} CPU ratio ${median(cpu).toFixed(3)} ${list(cpu)}   req/s ratio ${median(rps).toFixed(3)} ${list(rps)}`,
      )
    }
    const heads = rows.map((r) => r.defaultsVsBalancedPool as HeadToHead | undefined)
    if (heads.every((h) => h !== undefined)) {
      const of = (key: keyof HeadToHead) => heads.map((h) => h![key].median)
      shape.defaultsVsBalancedPool = { cpu: of('cpu'), rps: of('rps'), rpsToRawPool: of('rpsToRawPool') }
      console.log(
        `  defaults vs BalancedPool: CPU ratio ${median(of('cpu')).toFixed(3)} ${list(of('cpu'))} (>= 1: the defaults spend no more), req/s ${median(of('rps')).toFixed(3)} ${list(of('rps'))}; defaults' req/s to the raw Pool ${median(of('rpsToRawPool')).toFixed(3)} ${list(of('rpsToRawPool'))}`,
      )
    }
    summary[title] = shape
  }
  if (values.json) console.log(JSON.stringify(summary))
}
