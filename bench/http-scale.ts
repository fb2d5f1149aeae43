// Scenario S6, scale up and down through DNS at TTL 5 s: how long until the new pods get their
// fair share of requests, and how many requests fail when pods go away, for headless-lb with its
// defaults and with each balancer, undici's BalancedPool (a static list of the pods' addresses,
// as a user would write it) and the lab's ClusterIP proxy, side by side in one run.
//
//   npx node --import ./scripts/ts-resolve.mjs bench/http-scale.ts [--ttl 5] [--deadline 2000] [--json]
//
// Load: 16 closed loops of GET, each under AbortSignal.timeout(--deadline), over 4 pods. At 1 s
// the variant's service is scaled to 6 pods (DNS updated at once; clients see it when they next
// ask, within the TTL). Responses are counted per pod (`x-pod`) in 250 ms windows; the new pods
// have their fair share at the first of two windows in a row in which each got at least 0.8 of
// 1/6 of the responses. The run waits for that up to TTL + 4 s, then scales down to 3 pods (the
// lab stops the removed pods at once: in-flight requests on them are reset) and counts failures
// over 2 s. Each variant gets a fresh lab.
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { runInPrivateNetwork } from '../lab/private-network.js'
import { deadlineGet, failureCode, PEER_NAMES, peerVariant, startPods } from './http-bench-support.js'

if (!runInPrivateNetwork(fileURLToPath(import.meta.url))) process.exit(0)

const { values } = parseArgs({
  options: {
    ttl: { type: 'string', default: '5' },
    deadline: { type: 'string', default: '2000' },
    json: { type: 'boolean' },
  },
})
const ttlMs = Number(values.ttl) * 1_000
const deadline = Number(values.deadline)
const LOOPS = 16
const WINDOW_MS = 250
const FAIR = 0.8

interface Row {
  variant: string
  /** From the scale-up call to the new pods' fair share (undefined: not within TTL + 4 s). */
  msToFairShare: number | undefined
  /** The new pods' share of the responses in the last second before the scale-down (fair: 2/6). */
  newPodsShare: number
  failedOnScaleUp: number
  /** Requests that failed in the 2 s after the scale-down, by code. */
  failedOnScaleDown: number
  errors: Record<string, number>
}

async function run(name: (typeof PEER_NAMES)[number]): Promise<Row> {
  const lab = await startPods(4, { ttl: Number(values.ttl) })
  const variant = peerVariant(name, lab)
  const before = new Set((variant.service === 'web' ? lab.pods : lab.vip.pods).map((p) => p.name))
  try {
    const warm = performance.now() + 300
    await Promise.all(
      Array.from({ length: LOOPS }, async () => {
        while (performance.now() < warm) await deadlineGet(variant, deadline).catch(() => {})
      }),
    )
    const started = performance.now()
    // Per window: responses, and those from the new pods by pod.
    const windows: Array<{ total: number; byNewPod: Map<string, number> }> = []
    let phase: 'up' | 'down' = 'up'
    let stopAt = Number.POSITIVE_INFINITY
    let failedUp = 0
    let failedDown = 0
    const errors: Record<string, number> = {}
    const loops = Array.from({ length: LOOPS }, async () => {
      while (performance.now() < stopAt) {
        try {
          const pod = await deadlineGet(variant, deadline)
          const w = Math.floor((performance.now() - started) / WINDOW_MS)
          while (windows.length <= w) windows.push({ total: 0, byNewPod: new Map() })
          windows[w]!.total++
          if (!before.has(pod)) windows[w]!.byNewPod.set(pod, (windows[w]!.byNewPod.get(pod) ?? 0) + 1)
        } catch (error) {
          if (phase === 'up') failedUp++
          else {
            failedDown++
            const code = failureCode(error)
            errors[code] = (errors[code] ?? 0) + 1
          }
        }
      }
    })
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    const scaledAt = performance.now()
    const pods = await lab.scale(6, variant.service)
    const added = pods.map((p) => p.name).filter((n) => !before.has(n))
    const fairIn = (w: number): boolean => {
      const window = windows[w]
      return (
        window !== undefined &&
        window.total > 0 &&
        added.every((pod) => (window.byNewPod.get(pod) ?? 0) / window.total >= FAIR / pods.length)
      )
    }
    let fairAt: number | undefined
    const giveUp = scaledAt + ttlMs + 4_000
    while (fairAt === undefined && performance.now() < giveUp) {
      await new Promise((resolve) => setTimeout(resolve, WINDOW_MS))
      const complete = Math.floor((performance.now() - started) / WINDOW_MS) - 1
      for (let w = Math.floor((scaledAt - started) / WINDOW_MS) + 1; w < complete; w++) {
        if (fairIn(w) && fairIn(w + 1)) {
          fairAt = started + w * WINDOW_MS
          break
        }
      }
    }
    // One more second of load, for the share once settled (or not).
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    const lastSecond = windows.slice(-1 - 1_000 / WINDOW_MS, -1)
    const total = lastSecond.reduce((n, w) => n + w.total, 0)
    const fromNew = lastSecond.reduce((n, w) => n + [...w.byNewPod.values()].reduce((a, b) => a + b, 0), 0)
    phase = 'down'
    await lab.scale(3, variant.service)
    stopAt = performance.now() + 2_000
    await Promise.all(loops)
    return {
      variant: variant.name,
      msToFairShare: fairAt === undefined ? undefined : Math.max(0, Math.round(fairAt - scaledAt)),
      newPodsShare: total === 0 ? 0 : fromNew / total,
      failedOnScaleUp: failedUp,
      failedOnScaleDown: failedDown,
      errors,
    }
  } finally {
    await variant.destroy()
    await lab.stop()
  }
}

console.log(
  `scale 4 -> 6 -> 3 pods through DNS at TTL ${values.ttl} s: ${LOOPS} loops, deadline ${deadline} ms; fair share: each new pod >= ${FAIR} x 1/6 in two ${WINDOW_MS} ms windows in a row`,
)
console.log(
  `  ${'variant'.padEnd(26)} ${'to fair share'.padStart(13)}  new pods' share (fair 0.33)  failed on scale-up  failed on scale-down  errors`,
)
const rows: Row[] = []
for (const name of PEER_NAMES) {
  const row = await run(name)
  rows.push(row)
  console.log(
    `  ${row.variant.padEnd(26)} ${(row.msToFairShare === undefined ? 'not reached' : `${row.msToFairShare} ms`).padStart(13)}  ${row.newPodsShare.toFixed(2).padStart(27)}  ${String(row.failedOnScaleUp).padStart(18)}  ${String(row.failedOnScaleDown).padStart(20)}  ${JSON.stringify(row.errors)}`,
  )
}
if (values.json) console.log(JSON.stringify(rows))
