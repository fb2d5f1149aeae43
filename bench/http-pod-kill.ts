// Scenario S5, a pod killed and a pod black-holed under load: how many requests fail, how much
// throughput is left, and how long until no request goes to the pod, for headless-lb with its
// defaults and with each balancer, undici's BalancedPool (a static list of the pods' addresses)
// and the lab's ClusterIP proxy (a backend per connection), side by side in one run.
//
//   npx node --import ./scripts/ts-resolve.mjs bench/http-pod-kill.ts [--seconds 6] [--deadline 2000] [--only kill|blackhole] [--peers defaults,BalancedPool,ClusterIP] [--json]
//
// Load: 32 closed loops of GET, each under AbortSignal.timeout(--deadline), over 4 pods. At a
// quarter of the run (after a 700 ms warm-up), pod 2 of the variant's service is killed (listener closed, open sockets
// destroyed: a crashed container whose endpoint is still in DNS) or black-holed (its packets
// dropped, live keep-alive sockets included). Each variant gets a fresh lab. "Sent to the pod"
// counts requests dispatched to its address (the client's `attempt` events; for BalancedPool the
// undici requests created for that origin, seen through undici's diagnostics channel); through
// the VIP the client cannot tell, so only failures are counted. "Written" counts requests whose
// headers went onto a connection to the pod after the fault (undici's sendHeaders diagnostics
// channel, by the socket's remote address): what may have reached it, unlike a request queued
// for it. "Moved": attempts headless-lb took back unwritten when the pod left rotation and sent
// to another pod (stats().attemptsMoved).
import diagnostics from 'node:diagnostics_channel'
import type { Socket } from 'node:net'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { runInPrivateNetwork } from '../lab/private-network.js'
import { deadlineGet, failureCode, PEER_NAMES, peerVariant, startPods } from './http-bench-support.js'

if (!runInPrivateNetwork(fileURLToPath(import.meta.url))) process.exit(0)

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '6' },
    deadline: { type: 'string', default: '2000' },
    only: { type: 'string' },
    peers: { type: 'string' },
    json: { type: 'boolean' },
  },
})
const runMs = Number(values.seconds) * 1_000
const peers = values.peers === undefined ? PEER_NAMES : (values.peers.split(',') as typeof PEER_NAMES)
for (const p of peers) {
  if (!PEER_NAMES.includes(p)) throw new TypeError(`--peers: unknown ${p}; one of ${PEER_NAMES.join(', ')}`)
}
const deadline = Number(values.deadline)
const LOOPS = 32
const VICTIM = 2

interface Row {
  variant: string
  requests: number
  failed: number
  errors: Record<string, number>
  /** ok/s after the fault over ok/s before it. */
  throughputKept: number
  /** Requests dispatched to the pod after the fault (undefined: not visible through the VIP). */
  sentAfterFault: number | undefined
  msUntilNoRequestToPod: number | undefined
  /** Requests written onto a connection to the pod after the fault (undefined: through the VIP). */
  writtenAfterFault: number | undefined
  msUntilLastWritten: number | undefined
  /** headless-lb: attempts moved off the pod unwritten. */
  moved: number | undefined
  /** headless-lb: when the pool first stalled / ejected the pod, ms after the fault (undefined: never, or not visible). */
  msUntilStalled: number | undefined
  msUntilEjected: number | undefined
  /** When the last request failed, after the fault (0: none failed). */
  msUntilLastFailure: number
}

async function run(fault: 'kill' | 'blackhole', name: (typeof PEER_NAMES)[number]): Promise<Row> {
  const lab = await startPods(4)
  const variant = peerVariant(name, lab)
  const victimIp = (variant.service === 'web' ? lab.pods : lab.vip.pods)[VICTIM]!.ip
  try {
    // Warm-up: the client resolves the service and opens its connections before the clock starts.
    const warm = performance.now() + 700
    await Promise.all(
      Array.from({ length: LOOPS }, async () => {
        while (performance.now() < warm) await deadlineGet(variant, deadline).catch(() => {})
      }),
    )
    let faultAt = Number.POSITIVE_INFINITY
    let sentAfter = 0
    let lastSent = 0
    const unwatch = variant.watch?.((ip) => {
      const now = performance.now()
      if (ip !== victimIp || now < faultAt) return
      sentAfter++
      lastSent = now
    })
    let stalledAt: number | undefined
    let ejectedAt: number | undefined
    const unrotation = variant.rotation?.((ip, how) => {
      const now = performance.now()
      if (ip !== victimIp || now < faultAt) return
      if (how === 'stalled') stalledAt ??= now - faultAt
      else ejectedAt ??= now - faultAt
    })
    let written = 0
    let lastWritten = 0
    const onHeaders = (message: unknown) => {
      const now = performance.now()
      if (now < faultAt || (message as { socket: Socket }).socket.remoteAddress !== victimIp) return
      written++
      lastWritten = now
    }
    diagnostics.subscribe('undici:client:sendHeaders', onHeaders)
    const started = performance.now()
    const end = started + runMs
    let okBefore = 0
    let okAfter = 0
    let failed = 0
    let lastFailure = 0
    const errors: Record<string, number> = {}
    const injector = (async () => {
      await new Promise((resolve) => setTimeout(resolve, runMs / 4))
      // The clock starts when the fault is sent: the client may see it before the lab's process acknowledges.
      faultAt = performance.now()
      if (fault === 'kill') await lab.kill(VICTIM, variant.service)
      else await lab.blackhole(VICTIM, true, variant.service)
    })()
    await Promise.all(
      Array.from({ length: LOOPS }, async () => {
        while (performance.now() < end) {
          try {
            await deadlineGet(variant, deadline)
            if (performance.now() < faultAt) okBefore++
            else okAfter++
          } catch (error) {
            failed++
            lastFailure = performance.now()
            const code = failureCode(error)
            errors[code] = (errors[code] ?? 0) + 1
          }
        }
      }),
    )
    const finished = performance.now()
    await injector
    unwatch?.()
    diagnostics.unsubscribe('undici:client:sendHeaders', onHeaders)
    unrotation?.()
    const watched = variant.watch !== undefined
    return {
      variant: variant.name,
      requests: okBefore + okAfter + failed,
      failed,
      errors,
      throughputKept: okAfter / (finished - faultAt) / (okBefore / (faultAt - started)),
      sentAfterFault: watched ? sentAfter : undefined,
      msUntilNoRequestToPod: watched ? (sentAfter === 0 ? 0 : Math.round(lastSent - faultAt)) : undefined,
      writtenAfterFault: watched ? written : undefined,
      msUntilLastWritten: watched ? (written === 0 ? 0 : Math.round(lastWritten - faultAt)) : undefined,
      moved: variant.moved?.(),
      msUntilStalled: stalledAt === undefined ? undefined : Math.round(stalledAt),
      msUntilEjected: ejectedAt === undefined ? undefined : Math.round(ejectedAt),
      msUntilLastFailure: failed === 0 ? 0 : Math.max(0, Math.round(lastFailure - faultAt)),
    }
  } finally {
    await variant.destroy()
    await lab.stop()
  }
}

const report: Record<string, Row[]> = {}
for (const fault of ['kill', 'blackhole'] as const) {
  if (values.only !== undefined && values.only !== fault) continue
  if (fault === 'blackhole') {
    const probe = await startPods(1)
    await probe.stop()
    if (!probe.blackholeSupport.supported) {
      console.log(`\nblack hole: skipped (${probe.blackholeSupport.reason})`)
      continue
    }
  }
  console.log(
    `\n${fault === 'kill' ? 'pod killed' : 'pod black-holed (live sockets)'}: 4 pods, ${LOOPS} loops, deadline ${deadline} ms, ${runMs} ms, fault at ${runMs / 4} ms`,
  )
  console.log(
    `  ${'variant'.padEnd(26)} ${'requests'.padStart(8)} ${'failed'.padStart(6)}  kept  ${'sent to pod'.padStart(11)}  last sent  ${'written'.padStart(7)}  last written  moved  stalled  ejected  last failure  errors`,
  )
  const rows: Row[] = []
  for (const name of peers) {
    const row = await run(fault, name)
    rows.push(row)
    const ms = (v: number | undefined) => (v === undefined ? 'n/a' : `${v} ms`)
    console.log(
      `  ${row.variant.padEnd(26)} ${String(row.requests).padStart(8)} ${String(row.failed).padStart(6)}  ${row.throughputKept.toFixed(2)}  ${String(row.sentAfterFault ?? 'n/a').padStart(11)}  ${ms(row.msUntilNoRequestToPod).padStart(9)}  ${String(row.writtenAfterFault ?? 'n/a').padStart(7)}  ${ms(row.msUntilLastWritten).padStart(12)}  ${String(row.moved ?? '-').padStart(5)}  ${ms(row.msUntilStalled).padStart(7)}  ${ms(row.msUntilEjected).padStart(7)}  ${ms(row.msUntilLastFailure).padStart(12)}  ${JSON.stringify(row.errors)}`,
    )
  }
  report[fault] = rows
}
if (values.json) console.log(JSON.stringify(report))
