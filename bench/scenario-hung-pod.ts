// One pod of 4 hangs (accepts, reads, never answers), or is black-holed with live keep-alive
// sockets (packets to it dropped): how much of the healthy throughput each variant keeps, and how
// long after the fault the pod still gets new requests. Side by side in one run: headless-lb
// with the README's defaults and with each balancer, undici BalancedPool, the ClusterIP proxy.
//
//   npx node --import ./scripts/ts-resolve.mjs bench/scenario-hung-pod.ts [--seconds 4] [--fault hang|blackhole|both] [--only defaults,BalancedPool] [--json]
//
// Per variant: 1 s warm-up (connections open), `seconds` healthy, then the fault on web-2 and
// `seconds` more; 32 closed loops, each GET under AbortSignal.timeout(2_000). "kept" is requests/s
// answered 200 during the fault over requests/s before it (the pod's fair share is 0.75 of it).
// "last sent" is when the faulty pod last got a new request, ms after the fault (client-side
// attempt events; for the ClusterIP proxy, the pod's own counter, so not for a black hole).
// "loops free" is 1 - (time the loops spent on requests that failed) / (loops x phase): the
// share of the callers' capacity the fault left them, which unlike "kept" does not follow the
// machine's load from one phase to the next (a 2-core VM shared with other work swings 2-3x).
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { runInPrivateNetwork } from '../lab/private-network.js'
import { deadlineLoop, makeVariant, percentile, selected, startScenarioPods } from './scenario-support.js'

if (!runInPrivateNetwork(fileURLToPath(import.meta.url))) process.exit(0)

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '4' },
    fault: { type: 'string', default: 'both' },
    only: { type: 'string' },
    json: { type: 'boolean' },
  },
})
const phaseMs = Number(values.seconds) * 1_000
const LOOPS = 32
const DEADLINE = 2_000
const VICTIM = 2
const faults = values.fault === 'both' ? ['hang', 'blackhole'] : [values.fault!]

const lab = await startScenarioPods(4)
const results: Record<string, Record<string, unknown>> = {}
for (const fault of faults) {
  if (fault === 'blackhole' && !lab.blackhole.supported) {
    console.log(`black hole skipped: ${lab.blackhole.reason}`)
    continue
  }
  console.log(
    `\none pod of 4 ${fault === 'hang' ? 'hung' : 'black-holed (live sockets)'}, ${LOOPS} loops, ${DEADLINE} ms deadline, ${phaseMs} ms per phase`,
  )
  console.log(
    `${'variant'.padEnd(32)}${'healthy/s'.padStart(10)}${'fault/s'.padStart(10)}${'kept'.padStart(7)}${'loops free'.padStart(11)}${'failed'.padStart(8)}${'sent after'.padStart(11)}${'last sent'.padStart(11)}${'p99 ms'.padStart(8)}`,
  )
  results[fault] = {}
  for (const name of selected(values.only)) {
    await lab.reset()
    const variant = makeVariant(name, lab)
    await deadlineLoop(variant, LOOPS, 1_000, DEADLINE)
    const healthy = await deadlineLoop(variant, LOOPS, phaseMs, DEADLINE)
    let faultAt = Number.POSITIVE_INFINITY
    let sentAfter = 0
    let lastSent = 0
    const unwatch = variant.watch?.((pod) => {
      const now = performance.now()
      if (pod !== VICTIM || now < faultAt) return
      sentAfter++
      lastSent = now - faultAt
    })
    await lab.fault(VICTIM, fault === 'hang' ? { kind: 'hang' } : { kind: 'blackhole', on: true })
    faultAt = performance.now()
    const during = await deadlineLoop(variant, LOOPS, phaseMs, DEADLINE)
    const end = performance.now()
    unwatch?.()
    let last = variant.watch ? Math.round(lastSent) : Number.NaN
    if (!variant.watch && fault === 'hang') {
      const counts = await lab.counts()
      const ago = counts.last.vip[VICTIM]!
      last = ago < 0 ? 0 : Math.max(0, Math.round(end - ago - faultAt))
    }
    await variant.destroy()
    const row = {
      healthyPerSecond: Math.round((healthy.ok * 1_000) / phaseMs),
      faultPerSecond: Math.round((during.ok * 1_000) / phaseMs),
      kept: Number((during.ok / Math.max(1, healthy.ok)).toFixed(3)),
      loopsFree: Number((1 - during.failedMs / (LOOPS * phaseMs)).toFixed(3)),
      failed: during.failed,
      errors: Object.fromEntries(during.errors),
      sentAfterFault: variant.watch ? sentAfter : null,
      lastSentMs: Number.isNaN(last) ? null : last,
      p99: Math.round(percentile(during.latencies, 99)),
    }
    results[fault][variant.name] = row
    console.log(
      `${variant.name.padEnd(32)}${String(row.healthyPerSecond).padStart(10)}${String(row.faultPerSecond).padStart(10)}${row.kept.toFixed(2).padStart(7)}${row.loopsFree.toFixed(2).padStart(11)}${String(row.failed).padStart(8)}${String(row.sentAfterFault ?? '-').padStart(11)}${String(row.lastSentMs ?? '-').padStart(11)}${String(row.p99).padStart(8)}`,
    )
  }
}
await lab.stop()
if (values.json) console.log(JSON.stringify(results))
