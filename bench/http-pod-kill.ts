// A pod killed mid-run: how many requests fail, and how long until no request goes to it, for
// this client (retries on another pod; the pool ejects a pod at its first refused connect) and
// for undici's BalancedPool (no retries; lowers a failing upstream's weight).
//
//   npx node --import ./scripts/ts-resolve.mjs bench/http-pod-kill.ts [--seconds 3]
//
// Load: 16 requests in flight over 4 pods (4 connections each). At a third of the run, web-2
// is killed (listener closed, open sockets destroyed: a crashed container whose endpoint is
// still in DNS). "Sent to the dead pod" counts undici requests created for its address, seen
// through undici's diagnostics channel, so it covers both clients the same way.
import diagnostics from 'node:diagnostics_channel'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { BalancedPool, type Dispatcher } from 'undici'
import { createClient } from '../src/index.js'
import { runInPrivateNetwork } from '../test/lab/private-network.js'
import { closedLoop, type PodInfo, startPods } from './bench-support.js'

if (!runInPrivateNetwork(fileURLToPath(import.meta.url))) process.exit(0)

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '3' }, json: { type: 'boolean' } },
})
const runMs = Number(values.seconds) * 1_000
const VICTIM = 'web-2'

interface Target {
  readonly dispatcher: Dispatcher
  readonly origin: string
  close(): Promise<void>
}

const variants: Array<{ name: string; make: (pods: ReadonlyArray<PodInfo>) => Target }> = [
  {
    name: 'headless-lb client',
    make: (pods) => {
      const client = createClient({
        origin: `http://web.default.svc.cluster.local:${pods[0]!.port}`,
        addresses: pods.map((p) => `${p.ip}:${p.port}`),
        balancer: 'round-robin',
        connections: 4,
      })
      return { dispatcher: client.dispatcher, origin: client.origin, close: () => client.close() }
    },
  },
  {
    name: 'undici BalancedPool',
    make: (pods) => {
      const origins = pods.map((p) => `http://${p.ip}:${p.port}`)
      const pool = new BalancedPool(origins, { connections: 4 })
      return { dispatcher: pool, origin: origins[0]!, close: () => pool.close() }
    },
  },
]

const results: Record<string, unknown> = {}
for (const variant of variants) {
  const podsProcess = await startPods(4)
  const victim = podsProcess.pods.find((p) => p.name === VICTIM)!
  const victimOrigin = `http://${victim.ip}:${victim.port}`
  const target = variant.make(podsProcess.pods)
  let killedAt = Number.POSITIVE_INFINITY
  let lastToVictim = 0
  let afterKill = 0
  const onCreate = (message: unknown) => {
    const origin = String((message as { request: { origin: string } }).request.origin)
    if (origin !== victimOrigin) return
    const now = performance.now()
    if (now >= killedAt) {
      afterKill++
      lastToVictim = now
    }
  }
  diagnostics.subscribe('undici:request:create', onCreate)
  const killer = (async () => {
    await new Promise((r) => setTimeout(r, runMs / 3))
    // The clock starts when the kill is sent: the client may see the resets and refused connects
    // before the pods process's acknowledgement arrives.
    killedAt = performance.now()
    await podsProcess.kill(VICTIM)
  })()
  const load = await closedLoop(16, runMs, async () => {
    const res = await target.dispatcher.request({ origin: target.origin, path: '/', method: 'GET' })
    await res.body.dump()
  })
  await killer
  diagnostics.unsubscribe('undici:request:create', onCreate)
  await target.close()
  await podsProcess.stop()
  const row = {
    requests: load.ok + load.failed,
    failed: load.failed,
    errors: Object.fromEntries(load.errors),
    sentToDeadPodAfterKill: afterKill,
    msUntilNoRequestToDeadPod: afterKill === 0 ? 0 : Math.round(lastToVictim - killedAt),
  }
  results[variant.name] = row
  console.log(
    `${variant.name.padEnd(22)} requests ${row.requests}, failed ${row.failed} ${JSON.stringify(row.errors)}, ` +
      `sent to the dead pod after the kill: ${row.sentToDeadPodAfterKill}, last one ${row.msUntilNoRequestToDeadPod} ms after the kill`,
  )
}
if (values.json) console.log(JSON.stringify(results))
