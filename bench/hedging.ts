// Hedged requests against one slow pod: p50/p99 with and without `hedge`, side by side in one run,
// and what hedging costs (attempts per request) and where first attempts went.
//
//   npx node --import ./scripts/ts-resolve.mjs bench/hedging.ts [--seconds 2] [--reps 3] [--loops 16]
//       [--slow-ms 1000] [--slow-from warm|start] [--only NAME] [--json]
//
// 5 pods (bench/http-pods.ts: the lab in a child process), `--loops` closed loops of GETs. For each
// client configuration, four rows, each with a fresh client: all pods healthy, then web-4 slow
// (the lab's `slow` fault: every answer `--slow-ms` late), each without hedging and with
// `hedge: true` (the defaults: delay p99 of the client's recent attempt latencies, 2 attempts at
// most, hedges drawn from the retry budget) or the configuration's `hedge`. Each row: 1 s of
// warm-up, not counted (the client resolves, connects, measures latencies; with --slow-from warm,
// the default, web-4 turns slow 0.5 s into it, under load, as a pod that degrades while serving;
// with start, before the client exists), then `--seconds` measured.
// The target (issue 12): with hedging on, the slow-pod p99 <= 2 x the healthy p99 (the same
// configuration, healthy, without hedging): the ratio column, the median of the ratios of each
// repetition (its four rows run back to back, under the same machine load). Every row runs
// `--reps` times, interleaved in a rotating order; other columns give medians (counts: sums).
// Latency is the caller's: from the request to the end of its body. `web-4 first %`: the share of
// requests whose first attempt went to web-4 (a fifth when it is healthy).
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { runInPrivateNetwork } from '../lab/private-network.js'
import { createClient } from '../src/index.js'
import { closedLoop, median, quantile, startPods } from './http-bench-support.js'

if (!runInPrivateNetwork(fileURLToPath(import.meta.url))) process.exit(0)

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '2' },
    reps: { type: 'string', default: '3' },
    loops: { type: 'string', default: '16' },
    'slow-ms': { type: 'string', default: '1000' },
    // When the pod turns slow: halfway through the warm-up, under load (warm), or before the
    // client starts (start: its first requests there teach peak-EWMA the full delay).
    'slow-from': { type: 'string', default: 'warm' },
    // Only the configurations whose name contains this.
    only: { type: 'string' },
    json: { type: 'boolean' },
  },
})
const runMs = Number(values.seconds) * 1_000
const reps = Number(values.reps)
const loops = Number(values.loops)
const slowMs = Number(values['slow-ms'])
const SLOW = 'web-4'
const slowFrom = values['slow-from']
if (slowFrom !== 'warm' && slowFrom !== 'start')
  throw new RangeError(`--slow-from must be warm or start, got ${slowFrom}`)

/** Client options besides origin and DNS: the defaults, then what changes how hedging fares. */
const configs: Array<{ name: string; options: Record<string, unknown>; hedge?: object }> = [
  { name: 'defaults', options: {} },
  { name: "hedge.delay 'p95'", options: {}, hedge: { delay: 'p95' } },
  { name: "balancer 'least-request'", options: { balancer: 'least-request' } },
  { name: "balancer 'round-robin'", options: { balancer: 'round-robin' } },
].filter((c) => values.only === undefined || c.name.includes(values.only))

interface Sample {
  readonly requests: number
  readonly failed: number
  readonly p50: number
  readonly p99: number
  readonly p999: number
  /** Requests that took at least half the slow pod's delay: answered by it. */
  readonly slowAnswers: number
  readonly attempts: number
  readonly hedges: number
  readonly won: number
  readonly denied: number
  /** First attempts sent to the slow pod, and all attempts (first, hedges, retries) sent to it. */
  readonly slowFirst: number
  readonly slowAttempts: number
  /** Each pod's latency average at the end (peak-EWMA's view; printed per run only). */
  readonly ewma: string
}

const pods = await startPods(5)

async function sample(config: (typeof configs)[number], slow: boolean, hedge: boolean): Promise<Sample> {
  const options = config.options
  await pods.fault(
    SLOW,
    slow && slowFrom === 'start' ? { kind: 'slow', latencyMs: slowMs } : { kind: 'none' },
  )
  const client = createClient({
    origin: `http://${pods.service}:${pods.pods[0]!.port}`,
    portName: 'http',
    dns: { servers: [pods.dnsServer], search: [], ndots: 1 },
    ...options,
    hedge: hedge ? (config.hedge ?? true) : false,
  })
  const latencies: number[] = []
  let measuring = false
  let slowFirst = 0
  let slowAttempts = 0
  client.on('attempt', (e) => {
    if (!measuring || e.endpoint.name !== SLOW) return
    slowAttempts++
    if (e.attempt === 1) slowFirst++
  })
  const once = async () => {
    const start = performance.now()
    const res = await client.request('/')
    await res.body.dump()
    if (measuring) latencies.push(performance.now() - start)
  }
  // Warm-up: the client resolves, connects, measures latencies (hedge delay, EWMAs). With
  // `--slow-from warm`, the pod turns slow after it, under load, and the client gets another
  // half second to notice before the measurement.
  const warmUp = closedLoop(loops, 1_000, once)
  if (slow && slowFrom === 'warm') {
    await new Promise((resolve) => setTimeout(resolve, 500))
    await pods.fault(SLOW, { kind: 'slow', latencyMs: slowMs })
  }
  await warmUp
  const before = client.stats()
  measuring = true
  const load = await closedLoop(loops, runMs, once)
  measuring = false
  const after = client.stats()
  const ewma = client.pool
    .stats()
    .endpoints.map((e) => `${e.endpoint.name}=${e.ewma.toFixed(1)}`)
    .join(' ')
  await client.close()
  return {
    requests: load.ok + load.failed,
    failed: load.failed,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    p999: quantile(latencies, 0.999),
    slowAnswers: latencies.filter((ms) => ms >= slowMs / 2).length,
    attempts: after.attempts - before.attempts,
    hedges: after.hedges - before.hedges,
    won: after.hedgesWon - before.hedgesWon,
    denied: after.hedgesDenied - before.hedgesDenied,
    slowFirst,
    slowAttempts,
    ewma,
  }
}

const ROWS = [
  { slow: false, hedge: false },
  { slow: false, hedge: true },
  { slow: true, hedge: false },
  { slow: true, hedge: true },
] as const
const samples = new Map<string, Sample[]>()
try {
  for (let rep = 0; rep < reps; rep++) {
    for (const config of configs) {
      // A rotating order, so that no row always runs first (or right after the slow rows).
      for (let i = 0; i < ROWS.length; i++) {
        const row = ROWS[(i + rep) % ROWS.length]!
        const key = `${config.name}|${row.slow}|${row.hedge}`
        const s = await sample(config, row.slow, row.hedge)
        samples.set(key, [...(samples.get(key) ?? []), s])
        if (!values.json) console.log(`rep ${rep + 1} ${key} ${JSON.stringify(s)}`)
      }
    }
  }
} finally {
  await pods.stop()
}

const rows: Array<Record<string, string | number>> = []
for (const config of configs) {
  const healthy = samples.get(`${config.name}|false|false`) ?? []
  for (const { slow, hedge } of ROWS) {
    const runs = samples.get(`${config.name}|${slow}|${hedge}`) ?? []
    const m = (f: (s: Sample) => number) => median(runs.map(f))
    const sum = (f: (s: Sample) => number) => runs.reduce((n, s) => n + f(s), 0)
    rows.push({
      config: config.name,
      pods: slow ? `${SLOW} slow` : 'healthy',
      hedge: hedge ? 'on' : 'off',
      'req/s': Math.round(m((s) => s.requests) / (runMs / 1_000)),
      failed: sum((s) => s.failed),
      'ok %': Number((100 * (1 - sum((s) => s.failed) / sum((s) => s.requests))).toFixed(2)),
      'p50 ms': Number(m((s) => s.p50).toFixed(2)),
      'p99 ms': Number(m((s) => s.p99).toFixed(1)),
      // Per repetition (the four rows of a configuration run back to back, under the same load),
      // then the median: the machine's load drifts over a run more than the rows differ.
      'p99 / healthy p99': Number(median(runs.map((s, i) => s.p99 / healthy[i]!.p99)).toFixed(2)),
      'p99.9 ms': Number(m((s) => s.p999).toFixed(1)),
      [`>= ${slowMs / 2} ms`]: sum((s) => s.slowAnswers),
      'attempts/req': Number((sum((s) => s.attempts) / sum((s) => s.requests)).toFixed(3)),
      hedges: sum((s) => s.hedges),
      won: sum((s) => s.won),
      denied: sum((s) => s.denied),
      // The slow pod's share (whatever the row: web-4 is the same pod healthy or slow).
      [`${SLOW} first %`]: Number(((100 * sum((s) => s.slowFirst)) / sum((s) => s.requests)).toFixed(2)),
      [`${SLOW} attempts %`]: Number(
        ((100 * sum((s) => s.slowAttempts)) / sum((s) => s.attempts)).toFixed(2),
      ),
    })
  }
}
if (values.json) console.log(JSON.stringify(rows))
else {
  // A markdown table, as docs/performance.md shows it.
  const keys = Object.keys(rows[0] ?? {})
  console.log(`\n| ${keys.join(' | ')} |\n|${keys.map(() => ' --- ').join('|')}|`)
  for (const row of rows) console.log(`| ${keys.map((k) => row[k]).join(' | ')} |`)
}
