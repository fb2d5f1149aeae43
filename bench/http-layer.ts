// The client's own CPU per request as `client.request()` sees it under load, without sockets:
// 16 closed loops of undici's request() against a fake endpoint that answers every request
// dispatched in one event-loop turn at the next check phase (as a socket read delivers a batch),
// so that requests overlap as they do on real connections (bench/http-overhead.ts answers
// synchronously, one request at a time). The same loops against the fake directly, through an
// undici Pool and a BalancedPool over it, and through the client: the difference is the layer.
//
//   npx node --import ./scripts/ts-resolve.mjs bench/http-layer.ts [--seconds 1] [--reps 7]
//     [--options '{"balancer":"round-robin"}'] [--compare ../other-checkout/src/index.ts]
//
// CPU µs per request from process.cpuUsage(), median of interleaved repetitions. Differences of
// 30 ns between processes are noise (JIT decisions differ from run to run): run it three times.
import { dirname, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { BalancedPool, Dispatcher, Pool } from 'undici'
import { EndpointDispatchers } from '../src/http/endpoint-dispatchers.js'
import { createClient } from '../src/index.js'
import { BODY, FakeController, HEADERS } from './fake-endpoint.js'
import { median } from './http-bench-support.js'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '1' },
    reps: { type: 'string', default: '7' },
    options: { type: 'string' },
    compare: { type: 'string' },
  },
})
const ms = Number(values.seconds) * 1_000
const reps = Number(values.reps)
const LOOPS = 16

type Handler = Dispatcher.DispatchHandler
/** Answers 200 "ok" to every request dispatched in this turn, at the next check phase. */
class BatchingEndpoint extends Dispatcher {
  #pending: Handler[] = []
  #scheduled = false
  readonly #flush = (): void => {
    this.#scheduled = false
    const batch = this.#pending
    this.#pending = []
    for (const h of batch) {
      const c = new FakeController()
      h.onResponseStart?.(c, 200, HEADERS, 'OK')
      h.onResponseData?.(c, BODY)
      h.onResponseEnd?.(c, {})
    }
  }
  override dispatch(_options: Dispatcher.DispatchOptions, handler: Handler): boolean {
    handler.onRequestStart?.(new FakeController(), {})
    this.#pending.push(handler)
    if (!this.#scheduled) {
      this.#scheduled = true
      setImmediate(this.#flush)
    }
    return true
  }
  override close(): Promise<void> {
    return Promise.resolve()
  }
  override destroy(): Promise<void> {
    return Promise.resolve()
  }
}

const fake = new BatchingEndpoint()
const addresses = ['127.0.10.1', '127.0.10.2', '127.0.10.3', '127.0.10.4']
const clientOptions = values.options === undefined ? {} : (JSON.parse(values.options) as object)
const targets: Array<{ name: string; dispatcher: Dispatcher; origin: string }> = [
  { name: 'fake endpoint directly', dispatcher: fake, origin: 'http://127.0.10.1' },
  {
    name: 'undici Pool',
    dispatcher: new Pool('http://127.0.10.1', { factory: () => new BatchingEndpoint() as never }),
    origin: 'http://127.0.10.1',
  },
  {
    name: 'undici BalancedPool',
    dispatcher: new BalancedPool(
      addresses.map((a) => `http://${a}`),
      {
        factory: (o: string) =>
          new Pool(o, { connections: 4, factory: () => new BatchingEndpoint() as never }),
      } as never,
    ),
    origin: 'http://127.0.10.1',
  },
]
// Every endpoint's connection pool is the fake: the client's own layer is what is left.
;(EndpointDispatchers.prototype as unknown as { get(): Dispatcher }).get = () => fake
const makers: Array<[string, typeof createClient]> = [['headless-lb client', createClient]]
if (values.compare !== undefined) {
  const other = (await import(
    pathToFileURL(resolve(values.compare)).href
  )) as typeof import('../src/index.js')
  // That checkout's own EndpointDispatchers class, beside its index.
  const { EndpointDispatchers: theirs } = (await import(
    pathToFileURL(resolve(dirname(values.compare), 'http/endpoint-dispatchers.ts')).href
  )) as typeof import('../src/http/endpoint-dispatchers.js')
  ;(theirs.prototype as unknown as { get(): Dispatcher }).get = () => fake
  makers.push(['headless-lb, --compare', other.createClient])
}
for (const [name, make] of makers) {
  const client = make({ origin: 'http://web.default.svc.cluster.local:8080', addresses, ...clientOptions })
  await client.pool.ready()
  await (await client.request('/')).body.dump()
  targets.push({ name, dispatcher: client.dispatcher, origin: client.origin })
}

/** CPU µs per request over `ms` of LOOPS closed loops. */
async function run(target: (typeof targets)[number], ms: number): Promise<number> {
  const end = performance.now() + ms
  let done = 0
  const cpu = process.cpuUsage()
  const loop = async () => {
    while (performance.now() < end) {
      const res = await target.dispatcher.request({ origin: target.origin, path: '/', method: 'GET' })
      await res.body.dump()
      done++
    }
  }
  await Promise.all(Array.from({ length: LOOPS }, loop))
  const used = process.cpuUsage(cpu)
  return (used.user + used.system) / done
}

for (const t of targets) await run(t, 300)
const samples = new Map(targets.map((t) => [t.name, [] as number[]]))
for (let r = 0; r < reps; r++) {
  for (let i = 0; i < targets.length; i++) {
    const t = targets[(i + r) % targets.length]!
    samples.get(t.name)!.push(await run(t, ms))
  }
}
const base = median(samples.get(targets[0]!.name)!)
console.log(`${LOOPS} loops of request(), ${reps} x ${ms} ms, CPU per request (median)`)
for (const t of targets) {
  const m = median(samples.get(t.name)!)
  console.log(
    `  ${t.name.padEnd(26)} ${(m * 1_000).toFixed(0).padStart(6)} ns   layer ${((m - base) * 1_000).toFixed(0).padStart(5)} ns`,
  )
}
process.exit(0)
