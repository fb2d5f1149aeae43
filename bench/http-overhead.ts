// The client's own per-request cost, without sockets: ns and heap bytes per request of
// BalancedDispatcher (balancing, lease, attempt handler, retry bookkeeping) in front of a fake
// endpoint dispatcher that answers every request at once, against the same fake called directly.
// What a real request costs on top of this (undici's HTTP/1 client, the socket) is the same for
// both, so the difference is what the client adds to a raw undici Pool.
//
//   npx node --expose-gc --import ./scripts/ts-resolve.mjs bench/http-overhead.ts [--quick]
//   (--profile 5: loop the client alone for 5 s, to run under --cpu-prof; --profile-request: with
//    client.request() rather than the minimal handler)
//   (--options '{"balancer":"round-robin"}': the client's options, JSON; default: the defaults)
//   (--meter: the client records OpenTelemetry metrics into an SDK MeterProvider, as an
//    application with the OTel SDK started would; without it, no MeterProvider exists)
//
// Two callers: a minimal DispatchHandler (the layer's cost alone), and undici's `request()` API
// (RequestHandler, a body stream, a promise: what `client.request` does), awaited one at a time.
import { parseArgs } from 'node:util'
import { Dispatcher } from 'undici'
import { EndpointDispatchers } from '../src/http/endpoint-dispatchers.js'
import { createClient } from '../src/index.js'
import { InMemoryMeter } from '../test/support/in-memory-meter.js'
import { BODY, FakeController, HEADERS } from './fake-endpoint.js'

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    listeners: { type: 'boolean' },
    meter: { type: 'boolean' },
    // Only loop the client with the minimal handler for this many seconds (for --cpu-prof).
    profile: { type: 'string' },
    // With --profile: loop client.request() (undici's request API) instead of the minimal handler.
    'profile-request': { type: 'boolean' },
    // The client's options besides origin and addresses, as JSON (default: the defaults, as a user
    // gets them; '{"balancer":"round-robin"}' for the figures before the default was peak-EWMA).
    options: { type: 'string' },
  },
})
const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) {
  console.error('run with --expose-gc')
  process.exit(2)
}

type Handler = Dispatcher.DispatchHandler

/** An endpoint dispatcher that answers 200 "ok" synchronously, as a pod on a warm connection would, minus the I/O. */
class InstantDispatcher extends Dispatcher {
  override dispatch(_options: Dispatcher.DispatchOptions, handler: Handler): boolean {
    const controller = new FakeController()
    handler.onRequestStart?.(controller, {})
    handler.onResponseStart?.(controller, 200, HEADERS, 'OK')
    handler.onResponseData?.(controller, BODY)
    handler.onResponseEnd?.(controller, {})
    return true
  }
  override close(): Promise<void> {
    return Promise.resolve()
  }
  override destroy(): Promise<void> {
    return Promise.resolve()
  }
}

/** The smallest handler: counts completed responses. */
class CountingHandler implements Handler {
  done = 0
  onRequestStart(): void {}
  onResponseStart(): void {}
  onResponseData(): void {}
  onResponseEnd(): void {
    this.done++
  }
  onResponseError(_controller: unknown, error: Error): void {
    throw error
  }
}

const HANDLER_N = 200_000
const REQUEST_N = 20_000

const fake = new InstantDispatcher()
const meter = values.meter ? new InMemoryMeter() : undefined
const client = createClient({
  origin: 'http://web.default.svc.cluster.local:8080',
  addresses: ['127.0.10.1', '127.0.10.2', '127.0.10.3', '127.0.10.4'],
  ...(values.options === undefined ? {} : (JSON.parse(values.options) as object)),
  ...(meter === undefined ? {} : { meterProvider: meter.provider }),
})
if (values.listeners) client.on('attempt', () => {})
await client.pool.ready()
// Every endpoint's connection pool is the fake: only the client's own layer is left to measure.
;(EndpointDispatchers.prototype as unknown as { get(): Dispatcher }).get = () => fake
// The dispatcher learns that the pool is ready at its first request (a promise): from then on,
// requests are dispatched synchronously.
await (await client.request('/')).body.dump()

const origin = client.origin
const options: Dispatcher.DispatchOptions = { origin, path: '/', method: 'GET' }

interface Result {
  readonly ns: number
  readonly bytes: number
}

/** Synchronous dispatches with the minimal handler; returns how many were answered. */
function handlerRun(target: Dispatcher, n: number): number {
  const handler = new CountingHandler()
  for (let i = 0; i < n; i++) target.dispatch(options, handler)
  return handler.done
}

async function requestRun(target: Dispatcher, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const res = await target.request({ origin, path: '/', method: 'GET' })
    await res.body.dump()
  }
}

/**
 * ns per request over `n` requests (scavenges included, as in a long-running process), then
 * heap bytes per request over a run short enough that no GC happens inside it.
 */
async function measure(run: (n: number) => unknown, n: number, bytesN: number): Promise<Result> {
  const start = process.hrtime.bigint()
  await run(n)
  const ns = Number(process.hrtime.bigint() - start) / n
  gc!()
  const heapBefore = process.memoryUsage().heapUsed
  await run(bytesN)
  const bytes = (process.memoryUsage().heapUsed - heapBefore) / bytesN
  return { ns, bytes }
}

if (values.profile !== undefined) {
  const end = performance.now() + Number(values.profile) * 1_000
  let n = 0
  while (performance.now() < end) {
    if (values['profile-request']) {
      await requestRun(client.dispatcher, REQUEST_N)
      n += REQUEST_N
    } else {
      handlerRun(client.dispatcher, HANDLER_N)
      n += HANDLER_N
    }
  }
  console.log(`${n} requests`)
  await client.close()
  process.exit(0)
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!
const reps = values.quick ? 5 : 11

// Warm-up (JIT) for both paths, then interleaved repetitions, medians.
for (let i = 0; i < 10; i++) {
  handlerRun(fake, HANDLER_N)
  handlerRun(client.dispatcher, HANDLER_N)
  await requestRun(fake, REQUEST_N / 10)
  await requestRun(client.dispatcher, REQUEST_N / 10)
}
const rows: Record<string, { ns: number[]; bytes: number[] }> = {
  'handler, fake directly': { ns: [], bytes: [] },
  'handler, through client': { ns: [], bytes: [] },
  'request(), fake directly': { ns: [], bytes: [] },
  'request(), through client': { ns: [], bytes: [] },
}
for (let r = 0; r < reps; r++) {
  const add = (name: string, m: Result) => {
    rows[name]!.ns.push(m.ns)
    rows[name]!.bytes.push(m.bytes)
  }
  add('handler, fake directly', await measure((n) => handlerRun(fake, n), HANDLER_N, 5_000))
  add('handler, through client', await measure((n) => handlerRun(client.dispatcher, n), HANDLER_N, 5_000))
  add('request(), fake directly', await measure((n) => requestRun(fake, n), REQUEST_N, 1_000))
  add('request(), through client', await measure((n) => requestRun(client.dispatcher, n), REQUEST_N, 1_000))
}
const out: Record<string, { ns: number; bytes: number }> = {}
for (const [name, r] of Object.entries(rows)) {
  out[name] = { ns: Math.round(median(r.ns)), bytes: Math.round(median(r.bytes)) }
  console.log(
    `${name.padEnd(28)} ${String(out[name]!.ns).padStart(6)} ns/req  ${String(out[name]!.bytes).padStart(6)} bytes/req`,
  )
}
const h = out['handler, through client']!.ns - out['handler, fake directly']!.ns
const q = out['request(), through client']!.ns - out['request(), fake directly']!.ns
console.log(`client layer: ${h} ns/req (handler), ${q} ns/req (request())`)
await client.close()
await meter?.shutdown()
