// S4, a slow pod: one pod of 5 answers in 2 s while callers give each request 1 s. Success rate,
// p50/p99 and the share of requests the slow pod received, side by side in one run: headless-lb
// with the README's defaults and with each balancer, undici BalancedPool, the ClusterIP proxy.
//
//   npx node --import ./scripts/ts-resolve.mjs bench/scenario-slow-pod.ts [--seconds 8] [--only defaults,round-robin] [--json]
//
// Per variant: 1 s warm-up on healthy pods (connections open, latencies learnt), then web-4 turns
// slow (2 s before each response) and `seconds` of 32 closed loops, each GET under
// AbortSignal.timeout(1_000). The slow pod's fair share is 0.20. Linkerd's published figures for
// this experiment: round-robin 95 %, least-loaded 99 %, peak-EWMA 99.9 %.
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { runInPrivateNetwork } from '../lab/private-network.js'
import { deadlineLoop, makeVariant, percentile, selected, startScenarioPods } from './scenario-support.js'

if (!runInPrivateNetwork(fileURLToPath(import.meta.url))) process.exit(0)

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '8' },
    only: { type: 'string' },
    json: { type: 'boolean' },
  },
})
const runMs = Number(values.seconds) * 1_000
const LOOPS = 32
const DEADLINE = 1_000
const SLOW = 4

const lab = await startScenarioPods(5)
const results: Record<string, unknown> = {}
console.log(`one pod of 5 slow (2 s), ${LOOPS} loops, ${DEADLINE} ms deadline, ${runMs} ms`)
console.log(
  `${'variant'.padEnd(32)}${'requests'.padStart(9)}${'success'.padStart(10)}${'failed'.padStart(8)}${'p50 ms'.padStart(8)}${'p99 ms'.padStart(8)}${'slow share'.padStart(11)}`,
)
for (const name of selected(values.only)) {
  await lab.reset()
  const variant = makeVariant(name, lab)
  await deadlineLoop(variant, LOOPS, 1_000, DEADLINE)
  const before = await lab.counts()
  await lab.fault(SLOW, { kind: 'slow', latencyMs: 2_000 })
  const run = await deadlineLoop(variant, LOOPS, runMs, DEADLINE)
  const after = await lab.counts()
  await variant.destroy()
  const counts = after[variant.service].map((c, i) => c - before[variant.service][i]!)
  const total = counts.reduce((a, b) => a + b, 0)
  const requests = run.ok + run.failed
  const row = {
    requests,
    success: Number(((100 * run.ok) / Math.max(1, requests)).toFixed(3)),
    failed: run.failed,
    errors: Object.fromEntries(run.errors),
    p50: Math.round(percentile(run.latencies, 50)),
    p99: Math.round(percentile(run.latencies, 99)),
    slowShare: Number((counts[SLOW]! / Math.max(1, total)).toFixed(4)),
  }
  results[variant.name] = row
  console.log(
    `${variant.name.padEnd(32)}${String(requests).padStart(9)}${`${row.success.toFixed(2)} %`.padStart(10)}${String(row.failed).padStart(8)}${String(row.p50).padStart(8)}${String(row.p99).padStart(8)}${row.slowShare.toFixed(4).padStart(11)}`,
  )
}
await lab.stop()
if (values.json) console.log(JSON.stringify(results))
