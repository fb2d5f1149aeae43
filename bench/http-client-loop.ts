// One variant of bench/http-throughput.ts alone, for profiling: closed-loop GETs for --seconds
// after a warm-up, then requests/s, CPU time per request, and bytes allocated on the JS heap per
// request (from V8's GC profiler: heap used before each GC minus heap used after the previous one).
//
//   npx node --import ./scripts/ts-resolve.mjs bench/http-client-loop.ts --variant client [--seconds 5]
//   npx node --cpu-prof --cpu-prof-dir=/tmp/prof --import ./scripts/ts-resolve.mjs bench/http-client-loop.ts --variant raw
//
// Variants: raw (undici Pool, 1 pod), balanced (undici BalancedPool, 4 pods), wrapped (that
// BalancedPool behind a pass-through Dispatcher that wraps each handler), client (headless-lb
// client, 4 pods, round-robin), pools (the client's own per-endpoint Pools in plain round-robin, the
// handler passed straight through: the client without its layer). --connections 16 --pipelining 1 by default.
// The pods run in a child process (bench/http-pods.ts), so a profile of this process shows the
// client side only (--cpu-prof also profiles the pods process: ignore its file, the one with the
// other pid).
import { type ChildProcess, spawn } from 'node:child_process'
import { once as onceEvent } from 'node:events'
import { Session } from 'node:inspector/promises'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { GCProfiler, writeHeapSnapshot } from 'node:v8'
import { BalancedPool, Dispatcher, Pool } from 'undici'
import { runInPrivateNetwork } from '../lab/private-network.js'
import { EndpointDispatchers } from '../src/http/endpoint-dispatchers.js'
import { createClient } from '../src/index.js'
import { closedLoop, countedLoop, startPods } from './http-bench-support.js'

/** Forwards every request to `inner` with the caller's handler wrapped (see --variant wrapped). */
class PassThroughDispatcher extends Dispatcher {
  readonly #inner: Dispatcher
  constructor(inner: Dispatcher) {
    super()
    this.#inner = inner
  }
  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    return this.#inner.dispatch(options, new WrappingHandler(handler))
  }
  override close(): Promise<void> {
    return this.#inner.close()
  }
  override destroy(): Promise<void> {
    return this.#inner.destroy()
  }
}

/** The caller's handler behind one more object, which is the controller the caller sees. */
class WrappingHandler implements Dispatcher.DispatchHandler, Dispatcher.DispatchController {
  #inner: Dispatcher.DispatchHandler
  #controller: Dispatcher.DispatchController | null = null
  rawHeaders: Buffer[] | null = null
  rawTrailers: Buffer[] | null = null
  constructor(inner: Dispatcher.DispatchHandler) {
    this.#inner = inner
  }
  get aborted(): boolean {
    return this.#controller?.aborted ?? false
  }
  get paused(): boolean {
    return this.#controller?.paused ?? false
  }
  get reason(): Error | null {
    return this.#controller?.reason ?? null
  }
  abort(reason: Error): void {
    this.#controller?.abort(reason)
  }
  pause(): void {
    this.#controller?.pause()
  }
  resume(): void {
    this.#controller?.resume()
  }
  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    this.#controller = controller
    this.#inner.onRequestStart?.(this, context as never)
  }
  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[]>,
    statusMessage?: string,
  ): void {
    this.rawHeaders = (controller.rawHeaders as Buffer[] | undefined) ?? null
    this.#inner.onResponseStart?.(this, statusCode, headers as never, statusMessage)
  }
  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#inner.onResponseData?.(this, chunk)
  }
  onResponseEnd(
    _controller: Dispatcher.DispatchController,
    trailers: Record<string, string | string[]>,
  ): void {
    this.#inner.onResponseEnd?.(this, trailers as never)
  }
  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.#inner.onResponseError?.(this, error)
  }
}

if (!runInPrivateNetwork(fileURLToPath(import.meta.url))) process.exit(0)

const { values } = parseArgs({
  options: {
    variant: { type: 'string', default: 'client' },
    seconds: { type: 'string', default: '5' },
    // A fixed number of requests instead of --seconds (and as many again for the warm-up): for
    // runs whose cost is counted, not timed (bench/http-instructions.ts runs this under valgrind).
    requests: { type: 'string' },
    'warmup-requests': { type: 'string' },
    warmup: { type: 'string', default: '1' },
    connections: { type: 'string', default: '16' },
    pipelining: { type: 'string', default: '1' },
    listeners: { type: 'boolean' },
    // The client's balancer (default round-robin, as in bench/http-throughput.ts).
    balancer: { type: 'string', default: 'round-robin' },
    // The client with hedging on (`hedge: true`: delay p99 of its latencies).
    hedge: { type: 'boolean' },
    // undici's headersTimeout / bodyTimeout for any variant (default: each variant's own default).
    'headers-timeout': { type: 'string' },
    'body-timeout': { type: 'string' },
    // Sample allocations (every --heap-sample bytes on average, short-lived objects included)
    // and print the bytes allocated per request by function.
    'heap-sample': { type: 'string' },
    'gc-log': { type: 'boolean' },
    // With --heap-sample: leave out objects a scavenge collected, so what is left is what lived
    // long enough to be promoted to the old generation (or is still alive).
    promoted: { type: 'boolean' },
    // Write a heap snapshot to this file halfway through the run, while requests are in flight.
    snapshot: { type: 'string' },
    // Count the timers undici's HTTP/1 client arms (its FastTimers, Node's native timers) per request.
    'count-timers': { type: 'boolean' },
    // Sample this process with `perf record` (cpu-clock, this file) during the measured run only,
    // not the warm-up: bench/http-profile.ts reads it. Run node with --perf-basic-prof for names.
    perf: { type: 'string' },
  },
})
const connections = Number(values.connections)
const pipelining = Number(values.pipelining)
const podsProcess = await startPods(4)
const pods = podsProcess.pods
const podOrigin = (i: number) => `http://${pods[i]!.ip}:${pods[i]!.port}`
const perPod = Math.floor(connections / pods.length)
const optionalMs = (value: string | undefined) => (value === undefined ? undefined : Number(value))
const headersTimeout = optionalMs(values['headers-timeout'])
const bodyTimeout = optionalMs(values['body-timeout'])
const undiciTimeouts = {
  ...(headersTimeout === undefined ? {} : { headersTimeout }),
  ...(bodyTimeout === undefined ? {} : { bodyTimeout }),
}

let dispatcher: Dispatcher
let origin: string
let close: () => Promise<void>
if (values.variant === 'raw') {
  const raw = new Pool(podOrigin(0), { connections, pipelining, ...undiciTimeouts })
  dispatcher = raw
  origin = podOrigin(0)
  close = () => raw.close()
} else if (values.variant === 'balanced') {
  const balanced = new BalancedPool(
    pods.map((_, i) => podOrigin(i)),
    { connections: perPod, pipelining, ...undiciTimeouts },
  )
  dispatcher = balanced
  origin = podOrigin(0)
  close = () => balanced.close()
} else if (values.variant === 'client') {
  const client = createClient({
    origin: `http://${podsProcess.service}:${pods[0]!.port}`,
    portName: 'http',
    dns: { servers: [podsProcess.dnsServer], search: [], ndots: 1 },
    balancer: values.balancer as 'round-robin',
    ...(values.hedge ? { hedge: true } : {}),
    connections: perPod,
    pipelining,
    timeouts: {
      ...(headersTimeout === undefined ? {} : { headers: headersTimeout }),
      ...(bodyTimeout === undefined ? {} : { body: bodyTimeout }),
    },
  })
  // With --listeners, the client pays for `attempt` events too.
  if (values.listeners) client.on('attempt', () => {})
  dispatcher = client.dispatcher
  origin = client.origin
  close = () => client.close()
} else if (values.variant === 'wrapped') {
  // BalancedPool behind the thinnest Dispatcher that wraps each handler (as the client's attempt
  // handler does): what wrapping alone costs, without balancing, leases or retries.
  const balanced = new BalancedPool(
    pods.map((_, i) => podOrigin(i)),
    { connections: perPod, pipelining, ...undiciTimeouts },
  )
  dispatcher = new PassThroughDispatcher(balanced)
  origin = podOrigin(0)
  close = () => balanced.close()
} else if (values.variant === 'pools') {
  // The client's own per-endpoint Pools (its origin, connector and timeouts) in plain round-robin,
  // the caller's handler passed straight through: what the client's undici side costs without
  // its layer (balancing, leases, the request and attempt objects).
  const client = createClient({
    origin: `http://${podsProcess.service}:${pods[0]!.port}`,
    portName: 'http',
    dns: { servers: [podsProcess.dnsServer], search: [], ndots: 1 },
    connections: perPod,
    pipelining,
  })
  await client.pool.ready()
  const endpoints = [...client.pool.endpoints]
  // The client's defaults (src/http/client-options.ts).
  const pools = new EndpointDispatchers({
    origin: client.origin,
    servername: podsProcess.service,
    connections: perPod,
    pipelining,
    connectTimeout: 1_000,
    headersTimeout: headersTimeout ?? 10_000,
    bodyTimeout: bodyTimeout ?? 10_000,
    keepAliveTimeout: 4_000,
    allowH2: false,
    useH2c: false,
    tls: undefined,
  })
  let next = 0
  dispatcher = new (class extends Dispatcher {
    override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
      next = (next + 1) % endpoints.length
      return pools.get(endpoints[next]!).dispatch(options, handler)
    }
  })()
  origin = client.origin
  close = async () => {
    await pools.close()
    await client.close()
  }
} else {
  throw new RangeError(`--variant must be raw, balanced, wrapped, pools or client, got ${values.variant}`)
}

const once = async () => {
  const res = await dispatcher.request({ origin, path: '/', method: 'GET' })
  await res.body.dump()
  if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`)
}
const counted = values.requests === undefined ? undefined : Number(values.requests)
const warmupCount = Number(values['warmup-requests'] ?? counted)
const loop = (ms: number, warmup = false) =>
  counted === undefined
    ? closedLoop(connections * pipelining, ms, once)
    : countedLoop(connections * pipelining, warmup ? warmupCount : counted, once)

// undici's connections arm their timers through this module object (client-h1.js), so wrapping
// its functions counts every FastTimer made (a new one whenever the next timeout's value differs).
const timers = { fast: 0, native: 0 }
if (values['count-timers']) {
  const undiciTimers = createRequire(import.meta.url)('undici/lib/util/timers.js') as {
    setFastTimeout: (...args: unknown[]) => unknown
    setTimeout: (...args: unknown[]) => unknown
  }
  const { setFastTimeout, setTimeout: setUndiciTimeout } = undiciTimers
  undiciTimers.setFastTimeout = (...args) => {
    timers.fast++
    return setFastTimeout(...args)
  }
  undiciTimers.setTimeout = (...args) => {
    timers.native++
    return setUndiciTimeout(...args)
  }
}

const warm = await loop(Number(values.warmup) * 1_000, true)
timers.fast = 0
timers.native = 0
const gc = new GCProfiler()
gc.start()
const session = values['heap-sample'] === undefined ? null : new Session()
if (session !== null) {
  session.connect()
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: Number(values['heap-sample']),
    includeObjectsCollectedByMinorGC: values.promoted !== true,
    includeObjectsCollectedByMajorGC: true,
  })
}
if (values.snapshot !== undefined) {
  const file = values.snapshot
  setTimeout(() => writeHeapSnapshot(file), Number(values.seconds) * 500).unref()
}
const perf = values.perf === undefined ? null : await startPerf(values.perf)
const started = performance.now()
const cpu = process.cpuUsage()
const result = await loop(Number(values.seconds) * 1_000)
const used = process.cpuUsage(cpu)
if (perf !== null) await stopPerf(perf)
const elapsed = performance.now() - started
const profile = gc.stop()
if (session !== null) {
  const { profile: heap } = await session.post('HeapProfiler.stopSampling')
  session.disconnect()
  printAllocations(heap.head, result.ok)
}
let allocated = 0
let previousAfter: number | undefined
let gcTime = 0
let promoted = 0
let scavengeTime = 0
const heapUsed = (s: { heapStatistics: { usedHeapSize: number } }) => s.heapStatistics.usedHeapSize
const oldSpace = (s: { heapSpaceStatistics: ReadonlyArray<{ spaceName: string; spaceUsedSize: number }> }) =>
  s.heapSpaceStatistics.find((space) => space.spaceName === 'old_space')?.spaceUsedSize ?? 0
for (const event of profile?.statistics ?? []) {
  if (previousAfter !== undefined) allocated += heapUsed(event.beforeGC) - previousAfter
  previousAfter = heapUsed(event.afterGC)
  gcTime += event.cost
  if (event.gcType === 'Scavenge') {
    // What a scavenge moved to the old generation: objects that survived two.
    promoted += Math.max(0, oldSpace(event.afterGC) - oldSpace(event.beforeGC))
    scavengeTime += event.cost
  }
  if (values['gc-log']) {
    console.log(
      `${event.gcType} ${event.cost.toFixed(0)} µs  heap ${heapUsed(event.beforeGC)} -> ${heapUsed(event.afterGC)}`,
    )
  }
}
console.log(
  JSON.stringify({
    variant: values.variant,
    connections,
    pipelining,
    ok: result.ok,
    // Warm-up included: what a --cpu-prof of the whole process covers.
    okWithWarmup: result.ok + warm.ok,
    failed: result.failed,
    rps: Math.round(result.ok / (elapsed / 1_000)),
    cpuUsPerRequest: Number(((used.user + used.system) / result.ok).toFixed(2)),
    gcs: profile?.statistics.length ?? 0,
    gcUsPerRequest: Number((gcTime / result.ok).toFixed(2)),
    // Between the first and the last GC of the run.
    heapBytesPerRequest: Math.round(allocated / result.ok),
    // Moved to the old generation by scavenges, and their pause time (main thread).
    promotedBytesPerRequest: Math.round(promoted / result.ok),
    ...(values['count-timers']
      ? {
          fastTimersPerRequest: Number((timers.fast / result.ok).toFixed(2)),
          undiciTimeoutsPerRequest: Number((timers.native / result.ok).toFixed(2)),
        }
      : {}),
    scavengeUsPerRequest: Number((scavengeTime / result.ok).toFixed(2)),
  }),
)
// With --expose-gc: the heap left after a full GC (what the run retained, not just promoted).
const fullGc = (globalThis as { gc?: () => void }).gc
if (fullGc !== undefined) {
  fullGc()
  console.log(`heap after a full GC: ${process.memoryUsage().heapUsed} bytes`)
}
await close()
await podsProcess.stop()

interface SamplingNode {
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
  readonly selfSize: number
  readonly children: ReadonlyArray<SamplingNode>
}

/** Bytes per request by allocating function (self), and by the innermost frame of ours or undici's. */
function printAllocations(head: SamplingNode, requests: number): void {
  const bySelf = new Map<string, number>()
  const walk = (node: SamplingNode) => {
    const f = node.callFrame
    const url = f.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(src|bench)\//, '$1/')
    const key = `${f.functionName || '(anonymous)'} ${url}:${f.lineNumber + 1}`
    if (node.selfSize > 0) bySelf.set(key, (bySelf.get(key) ?? 0) + node.selfSize)
    for (const child of node.children) walk(child)
  }
  walk(head)
  let total = 0
  for (const bytes of bySelf.values()) total += bytes
  console.log(`sampled allocations: ${(total / requests).toFixed(0)} bytes per request`)
  for (const [key, bytes] of [...bySelf].sort((a, b) => b[1] - a[1]).slice(0, 40)) {
    console.log(`${(bytes / requests).toFixed(1).padStart(8)}  ${key}`)
  }
}

/** `perf record` of this process's threads into `file`, from the moment it has attached. */
async function startPerf(file: string): Promise<ChildProcess> {
  const args = ['record', '-F', '10000', '-e', 'cpu-clock', '-p', String(process.pid), '-o', file]
  const child = spawn('perf', args, { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  // perf prints nothing when it has attached: give it a moment, and fail if it exited.
  await new Promise((r) => setTimeout(r, 300))
  if (child.exitCode !== null) throw new Error(`perf record exited: ${stderr.trim()}`)
  return child
}

async function stopPerf(child: ChildProcess): Promise<void> {
  const exited = onceEvent(child, 'exit')
  child.kill('SIGINT')
  await exited
}
