// A pod killed mid-run: how many requests fail, and how long until no request goes to it, for
// this client (retries on another pod; the pool ejects a pod at its first refused connect) and
// for undici's BalancedPool (no retries; lowers a failing upstream's weight).
//
//   npx node --import ./scripts/ts-resolve.mjs bench/http-pod-kill.ts [--seconds 3]
//
// Load: 16 requests in flight over 4 pods (4 connections each). At a third of the run, web-2
// is killed (listener closed, open sockets destroyed: a crashed container whose endpoint is
// still in DNS). "Sent to the dead pod" counts requests dispatched to its address: the client's
// `attempt` events, and for BalancedPool the undici requests created for that origin (seen
// through undici's diagnostics channel).
import diagnostics from 'node:diagnostics_channel'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { BalancedPool, type Dispatcher } from 'undici'
import { type AttemptEvent, createClient } from '../src/index.js'
import { runInPrivateNetwork } from '../test/lab/private-network.js'
import { closedLoop, type PodsProcess, startPods } from './http-bench-support.js'

if (!runInPrivateNetwork(fileURLToPath(import.meta.url))) process.exit(0)

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '3' }, json: { type: 'boolean' } },
})
const runMs = Number(values.seconds) * 1_000
const VICTIM = 'web-2'

interface Target {
  readonly dispatcher: Dispatcher
  readonly origin: string
  /** Calls `sent(address)` for every request (attempt) dispatched to a pod. */
  watch(sent: (address: string) => void): () => void
  close(): Promise<void>
}

/** undici requests by their origin's host: BalancedPool's requests carry the pod's address. */
function watchRequestOrigins(sent: (address: string) => void): () => void {
  const onCreate = (message: unknown) =>
    sent(new URL((message as { request: { origin: string } }).request.origin).hostname)
  diagnostics.subscribe('undici:request:create', onCreate)
  return () => diagnostics.unsubscribe('undici:request:create', onCreate)
}

const variants: Array<{ name: string; make: (lab: PodsProcess) => Target }> = [
  {
    name: 'headless-lb client',
    make: (lab) => {
      const client = createClient({
        origin: `http://${lab.service}:${lab.pods[0]!.port}`,
        portName: 'http',
        dns: { servers: [lab.dnsServer], search: [], ndots: 1 },
        balancer: 'round-robin',
        connections: 4,
      })
      return {
        dispatcher: client.dispatcher,
        origin: client.origin,
        // The client's requests carry the service name; its attempt events name the pod.
        watch(sent) {
          const onAttempt = (e: AttemptEvent) => sent(e.endpoint.address)
          client.on('attempt', onAttempt)
          return () => client.off('attempt', onAttempt)
        },
        close: () => client.close(),
      }
    },
  },
  {
    name: 'undici BalancedPool',
    make: ({ pods }) => {
      const origins = pods.map((p) => `http://${p.ip}:${p.port}`)
      const pool = new BalancedPool(origins, { connections: 4 })
      return { dispatcher: pool, origin: origins[0]!, watch: watchRequestOrigins, close: () => pool.close() }
    },
  },
]

const results: Record<string, unknown> = {}
for (const variant of variants) {
  const podsProcess = await startPods(4)
  const victim = podsProcess.pods.find((p) => p.name === VICTIM)!
  const target = variant.make(podsProcess)
  // Warm-up: the client resolves the service and opens its connections before the clock starts.
  await closedLoop(16, 300, async () => {
    await (await target.dispatcher.request({ origin: target.origin, path: '/', method: 'GET' })).body.dump()
  })
  let killedAt = Number.POSITIVE_INFINITY
  let lastToVictim = 0
  let afterKill = 0
  const unwatch = target.watch((address) => {
    if (address !== victim.ip) return
    const now = performance.now()
    if (now >= killedAt) {
      afterKill++
      lastToVictim = now
    }
  })
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
  unwatch()
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
