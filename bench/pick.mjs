// Pick microbenchmark: ns per pick and bytes allocated per pick, per balancer, at 4, 64 and 1024
// endpoints, against a plain array-index rotation (the floor).
//
// Plain JavaScript importing the built package, so it runs on plain Node without a TypeScript
// loader or vitest:  npx tsc -p tsconfig.build.json && npx node --expose-gc bench/pick.mjs
// (`npm run build` works too). Options: --quick (fewer iterations), --json.
//
// Each balancer runs in its own Node process: an application normally uses one balancer class,
// and measuring five in one process would make the pool's call into its balancer megamorphic
// (not inlined), which is not what an application sees.
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { createPool } from '../dist/esm/index.js'

const quick = process.argv.includes('--quick')
const json = process.argv.includes('--json')
const ITERATIONS = quick ? 2_000_000 : 10_000_000
const ALLOCATION_ITERATIONS = 200_000
const SIZES = [4, 64, 1024]
const BALANCERS = ['round-robin', 'random', 'least-request', 'peak-ewma', 'consistent-hash']

if (typeof globalThis.gc !== 'function') {
  console.error('run with --expose-gc: npx node --expose-gc bench/pick.mjs')
  process.exit(2)
}

function endpoints(n) {
  return Array.from({ length: n }, (_, i) => ({
    id: `web-${i}.web.default.svc.cluster.local`,
    address: `127.0.${10 + (i >> 8)}.${i & 255}`,
    family: 4,
    port: 8080,
    name: `web-${i}`,
    ordinal: i,
  }))
}

/** A static endpoint source: what the pool needs, without DNS. */
function staticSource(list) {
  return {
    endpoints: list,
    stale: false,
    ready: async () => {},
    refresh() {},
    on() {
      return this
    },
    off() {
      return this
    },
    close: async () => {},
  }
}

/** The floor: an object whose pick() rotates an array index. */
class ArrayRotation {
  constructor(list) {
    this.list = list
    this.i = 0
  }
  pick() {
    const list = this.list
    const e = list[this.i]
    this.i = this.i + 1 === list.length ? 0 : this.i + 1
    return e
  }
}

// Pre-built option objects, so the benchmark measures the pool and not the caller's allocations.
const KEYS = Array.from({ length: 1024 }, (_, i) => ({ key: `user-${i * 7919}` }))

function runPicks(target, balancer, iterations) {
  let sink = 0
  if (balancer === 'consistent-hash') {
    for (let i = 0; i < iterations; i++) sink += target.pick(KEYS[i & 1023]).port
  } else {
    for (let i = 0; i < iterations; i++) sink += target.pick().port
  }
  return sink
}

function runLeases(pool, iterations) {
  let sink = 0
  for (let i = 0; i < iterations; i++) {
    const lease = pool.acquire()
    sink += lease.endpoint.port
    lease.release(OK)
  }
  return sink
}
const OK = { ok: true, latency: 3 }

/**
 * Nanoseconds per call: the best of 10 batches. The minimum, not the mean, because the machines
 * this runs on are shared: other processes only ever add time.
 */
function nsPer(fn, iterations) {
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

function bytesPer(fn) {
  fn(ALLOCATION_ITERATIONS) // warm up (compilation allocates)
  globalThis.gc()
  const before = process.memoryUsage().heapUsed
  fn(ALLOCATION_ITERATIONS)
  const after = process.memoryUsage().heapUsed
  return Math.max(0, (after - before) / ALLOCATION_ITERATIONS)
}

function measure(balancer) {
  const rows = []
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
    const row = { balancer, n, ns, bytes }
    if (balancer !== 'consistent-hash') {
      row.leaseNs = nsPer((k) => runLeases(pool, k), ITERATIONS / 4)
      row.leaseBytes = bytesPer((k) => runLeases(pool, k))
    }
    rows.push(row)
    pool.close()
  }
  return rows
}

const only = process.argv.indexOf('--only')
if (only > 0) {
  console.log(JSON.stringify(measure(process.argv[only + 1])))
} else {
  const rows = []
  for (const balancer of ['floor', ...BALANCERS]) {
    const out = execFileSync(
      process.execPath,
      ['--expose-gc', fileURLToPath(import.meta.url), '--only', balancer, ...(quick ? ['--quick'] : [])],
      { encoding: 'utf8' },
    )
    rows.push(...JSON.parse(out))
  }
  const floor = new Map(rows.filter((r) => r.balancer.startsWith('array')).map((r) => [r.n, r.ns]))
  for (const r of rows) if (!r.balancer.startsWith('array')) r.vsFloor = r.ns / floor.get(r.n)
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
