// Pick microbenchmark: ns per pick and bytes allocated per pick, per balancer, at 4, 64 and 1024
// endpoints, against a plain array-index rotation (the floor).
//
// Runs on Node 24 by type stripping, no build step:
//   npx node --expose-gc --import ./scripts/ts-resolve.mjs bench/pick.ts [--quick] [--json]
//
// Each balancer runs in its own Node process: an application normally uses one balancer class,
// and measuring five in one process would make the pool's call into its balancer megamorphic
// (not inlined), which is not what an application sees.
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { EndpointSource } from '../src/discovery/endpoint-source.js'
import type { Endpoint } from '../src/endpoint.js'
import type { BalancerName, Pool } from '../src/index.js'
import { createPool } from '../src/index.js'

const quick = process.argv.includes('--quick')
const json = process.argv.includes('--json')
const ITERATIONS = quick ? 2_000_000 : 10_000_000
const ALLOCATION_ITERATIONS = 200_000
const SIZES = [4, 64, 1024]
const BALANCERS: BalancerName[] = ['round-robin', 'random', 'least-request', 'peak-ewma', 'consistent-hash']

if (typeof globalThis.gc !== 'function') {
  console.error('run with --expose-gc: npx node --expose-gc --import ./scripts/ts-resolve.mjs bench/pick.ts')
  process.exit(2)
}

function endpoints(n: number): Endpoint[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `web-${i}.web.default.svc.cluster.local`,
    address: `127.0.${10 + (i >> 8)}.${i & 255}`,
    family: 4 as const,
    port: 8080,
    name: `web-${i}`,
    ordinal: i,
  }))
}

/** A static endpoint source: what the pool needs, without DNS. */
function staticSource(list: Endpoint[]): EndpointSource {
  const source: EndpointSource = {
    endpoints: list,
    stale: false,
    ready: async () => {},
    refresh() {},
    on: () => source,
    off: () => source,
    close: async () => {},
    [Symbol.asyncDispose]: async () => {},
  }
  return source
}

/** The floor: an object whose pick() rotates an array index. */
class ArrayRotation {
  private readonly list: Endpoint[]
  private i = 0
  constructor(list: Endpoint[]) {
    this.list = list
  }
  pick(): Endpoint {
    const list = this.list
    const e = list[this.i]!
    this.i = this.i + 1 === list.length ? 0 : this.i + 1
    return e
  }
}

// Pre-built option objects, so the benchmark measures the pool and not the caller's allocations.
const KEYS = Array.from({ length: 1024 }, (_, i) => ({ key: `user-${i * 7919}` }))

interface Picker {
  pick(options?: { key: string }): Endpoint
}

function runPicks(target: Picker, balancer: string, iterations: number): number {
  let sink = 0
  if (balancer === 'consistent-hash') {
    for (let i = 0; i < iterations; i++) sink ^= target.pick(KEYS[i & 1023]!).port
  } else {
    for (let i = 0; i < iterations; i++) sink ^= target.pick().port
  }
  return sink
}

function runLeases(pool: Pool, iterations: number): number {
  let sink = 0
  for (let i = 0; i < iterations; i++) {
    const lease = pool.acquire()
    sink ^= lease.endpoint.port
    lease.release(OK)
  }
  return sink
}
const OK = { ok: true, latency: 3 } as const

/**
 * Nanoseconds per call: the best of 10 batches. The minimum, not the mean, because the machines
 * this runs on are shared: other processes only ever add time.
 */
function nsPer(fn: (iterations: number) => number, iterations: number): number {
  const batch = Math.floor(iterations / 10)
  fn(batch) // warm up: let the JIT settle
  let best = Number.POSITIVE_INFINITY
  for (let b = 0; b < 10; b++) {
    const start = process.hrtime.bigint()
    fn(batch)
    best = Math.min(best, Number(process.hrtime.bigint() - start) / batch)
  }
  return best
}

/**
 * Bytes per call from heapUsed before and after a run. The child runs with a 64 MB young
 * generation so that no scavenge (which would hide allocation) happens inside the measured run.
 */
function bytesPer(fn: (iterations: number) => number): number {
  fn(ALLOCATION_ITERATIONS) // warm up (compilation allocates)
  // The least of three runs: steady-state allocation repeats every run, while one-off heap
  // growth (code from a concurrent recompilation, a map migration) shows up in one run only.
  let best = Number.POSITIVE_INFINITY
  for (let run = 0; run < 3; run++) {
    globalThis.gc!()
    const before = process.memoryUsage().heapUsed
    fn(ALLOCATION_ITERATIONS)
    const after = process.memoryUsage().heapUsed
    best = Math.min(best, Math.max(0, (after - before) / ALLOCATION_ITERATIONS))
  }
  return best
}

interface Row {
  balancer: string
  n: number
  ns: number
  bytes: number
  leaseNs?: number
  leaseBytes?: number
  vsFloor?: number
}

function measure(balancer: BalancerName | 'floor'): Row[] {
  const rows: Row[] = []
  for (const n of SIZES) {
    const list = endpoints(n)
    if (balancer === 'floor') {
      const floor = new ArrayRotation(list)
      const ns = nsPer((k) => runPicks(floor, 'floor', k), ITERATIONS)
      rows.push({
        balancer: 'array rotation (floor)',
        n,
        ns,
        bytes: bytesPer((k) => runPicks(floor, 'floor', k)),
      })
      continue
    }
    const pool = createPool({ service: 'web', port: 8080, balancer }, { source: staticSource(list) })
    if (balancer === 'peak-ewma') {
      // Give every endpoint a latency, as live traffic would.
      for (let i = 0; i < n * 4; i++) pool.acquire().release({ ok: true, latency: 1 + (i % 17) })
    }
    const ns = nsPer((k) => runPicks(pool, balancer, k), ITERATIONS)
    const bytes = bytesPer((k) => runPicks(pool, balancer, k))
    const row: Row = { balancer, n, ns, bytes }
    if (balancer !== 'consistent-hash') {
      row.leaseNs = nsPer((k) => runLeases(pool, k), ITERATIONS / 4)
      row.leaseBytes = bytesPer((k) => runLeases(pool, k))
    }
    rows.push(row)
    void pool.close()
  }
  return rows
}

const only = process.argv.indexOf('--only')
if (only > 0) {
  console.log(JSON.stringify(measure(process.argv[only + 1] as BalancerName | 'floor')))
} else {
  const rows: Row[] = []
  for (const balancer of ['floor', ...BALANCERS]) {
    const out = execFileSync(
      process.execPath,
      [
        ...process.execArgv,
        fileURLToPath(import.meta.url),
        '--only',
        balancer,
        ...(quick ? ['--quick'] : []),
      ],
      { encoding: 'utf8' },
    )
    rows.push(...(JSON.parse(out) as Row[]))
  }
  const floor = new Map(rows.filter((r) => r.balancer.startsWith('array')).map((r) => [r.n, r.ns]))
  for (const r of rows) if (!r.balancer.startsWith('array')) r.vsFloor = r.ns / floor.get(r.n)!
  rows.sort((a, b) => a.n - b.n)
  if (json) console.log(JSON.stringify(rows, null, 2))
  else {
    console.log(
      `Node ${process.version}, best of 10 batches of ${ITERATIONS / 10} picks, one process per balancer`,
    )
    console.log(
      'balancer                 endpoints   ns/pick  x floor  bytes/pick  ns/acquire+release  bytes/lease',
    )
    for (const r of rows) {
      console.log(
        [
          r.balancer.padEnd(24),
          String(r.n).padStart(9),
          r.ns.toFixed(1).padStart(9),
          (r.vsFloor === undefined ? '' : r.vsFloor.toFixed(2)).padStart(8),
          r.bytes.toFixed(2).padStart(11),
          (r.leaseNs === undefined ? '' : r.leaseNs.toFixed(1)).padStart(19),
          (r.leaseBytes === undefined ? '' : r.leaseBytes.toFixed(2)).padStart(12),
        ].join(' '),
      )
    }
  }
}
