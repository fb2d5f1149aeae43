// A gRPC service scaled from 3 to 4 pods under load: how long until the new pod gets its share
// of calls, for a channel resolved by headless-lb/grpc and for one resolved by grpc-js's own
// `dns:` resolver, side by side in one run (same lab, same pods, same load, both round_robin).
//
//   npx node --import ./scripts/ts-resolve.mjs bench/grpc-scale-up.ts [--seconds 15] [--ttl 5] [--json]
//
// grpc-js's resolver asks the system resolver (dns.lookup) unless GRPC_NODE_USE_ALTERNATIVE_RESOLVER
// is set; it is set here, before grpc-js loads, so that `dns://<lab DNS>/<service>:<port>` asks
// the lab's BIND server as headless-lb does. Each client runs 4 callers making unary calls back
// to back. The scale-up's clock starts once DNS serves the fourth pod (lab.scale resolves then).
// "Share reached": the new pod answered at least 80 % of a fair quarter of the client's calls in
// a 500 ms window. "never" means not within --seconds.
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { runInPrivateNetwork } from '../lab/private-network.js'

if (!runInPrivateNetwork(fileURLToPath(import.meta.url))) process.exit(0)

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '15' },
    ttl: { type: 'string', default: '5' },
    json: { type: 'boolean' },
  },
})
const runMs = Number(values.seconds) * 1_000
const ttl = Number(values.ttl)
const WINDOW_MS = 500
const CALLERS = 4

// Read by grpc-js when it loads (src/environment.ts), hence the dynamic imports below.
process.env.GRPC_NODE_USE_ALTERNATIVE_RESOLVER = 'true'
const grpc = await import('@grpc/grpc-js')
const { registerHeadlessResolver } = await import('../src/grpc/index.js')
const { EchoClient, echo } = await import('../lab/grpc-pod-server.js')
const { startLab } = await import('../lab/index.js')

const lab = await startLab({ ttl })
const svc = await lab.addService({ name: 'rpc', kind: 'headless', app: 'grpc', replicas: 3 })
registerHeadlessResolver(grpc, { dns: { servers: [lab.dnsServer], search: [], ndots: 1 } })
const serviceConfig = {
  'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
}
const insecure = grpc.credentials.createInsecure()
const NEW_POD = 'rpc-3'

interface Variant {
  readonly name: string
  readonly client: InstanceType<typeof EchoClient>
  /** Call completion times (ms since the scale-up) and the pod that answered. */
  readonly calls: Array<{ at: number; pod: string }>
  failed: number
}

const variants: Variant[] = [
  {
    name: 'headless-lb/grpc',
    client: new EchoClient(`headless:///${svc.fqdn}:${svc.port}`, insecure, serviceConfig),
    calls: [],
    failed: 0,
  },
  {
    name: 'grpc-js dns:',
    client: new EchoClient(`dns://${lab.dnsServer}/${svc.fqdn}:${svc.port}`, insecure, serviceConfig),
    calls: [],
    failed: 0,
  },
]

let t0 = Number.POSITIVE_INFINITY
let running = true
async function caller(v: Variant): Promise<void> {
  while (running) {
    try {
      const reply = await echo(v.client, { deadline: Date.now() + 5_000 })
      if (performance.now() >= t0) v.calls.push({ at: performance.now() - t0, pod: reply.pod })
    } catch {
      v.failed++
    }
    await new Promise((resolve) => setImmediate(resolve))
  }
}

const workers = variants.flatMap((v) => Array.from({ length: CALLERS }, () => caller(v)))
// Warm-up: both channels resolve and connect to the 3 pods.
await new Promise((resolve) => setTimeout(resolve, 1_000))
const opened = new Map(svc.pods.map((p) => [p.name, p.connections.opened]))
await svc.scale(4)
t0 = performance.now()
await new Promise((resolve) => setTimeout(resolve, runMs))
running = false
await Promise.all(workers)

function firstCall(v: Variant): number | undefined {
  return v.calls.find((c) => c.pod === NEW_POD)?.at
}

/** The end of the first window in which the new pod had >= 80 % of a fair share. */
function shareReached(v: Variant): number | undefined {
  const calls = v.calls
  let start = 0
  let toNew = 0
  for (let end = 0; end < calls.length; end++) {
    if (calls[end]!.pod === NEW_POD) toNew++
    while (calls[end]!.at - calls[start]!.at > WINDOW_MS) {
      if (calls[start]!.pod === NEW_POD) toNew--
      start++
    }
    const n = end - start + 1
    if (calls[end]!.at >= WINDOW_MS && n >= 20 && toNew / n >= 0.8 * 0.25) return calls[end]!.at
  }
  return undefined
}

/** Each pod's share of the calls in the run's last 2 s. */
function lastShares(v: Variant): Record<string, number> {
  const from = runMs - 2_000
  const recent = v.calls.filter((c) => c.at >= from)
  const counts: Record<string, number> = {}
  for (const pod of svc.pods) counts[pod.name] = 0
  for (const c of recent) counts[c.pod] = (counts[c.pod] ?? 0) + 1
  return Object.fromEntries(
    Object.entries(counts).map(([pod, n]) => [
      pod,
      recent.length ? Math.round((n / recent.length) * 1000) / 10 : 0,
    ]),
  )
}

const ms = (value: number | undefined): string => (value === undefined ? 'never' : `${Math.round(value)} ms`)
const results: Record<string, unknown> = {}
console.log(`TTL ${ttl} s, ${values.seconds} s after the scale-up, ${CALLERS} callers per client`)
for (const v of variants) {
  const row = {
    calls: v.calls.length,
    failed: v.failed,
    firstCallToNewPodMs: firstCall(v),
    shareReachedMs: shareReached(v),
    lastTwoSecondsSharePercent: lastShares(v),
  }
  results[v.name] = row
  console.log(
    `${v.name.padEnd(18)} first call to ${NEW_POD}: ${ms(row.firstCallToNewPodMs).padStart(8)}, ` +
      `share reached: ${ms(row.shareReachedMs).padStart(8)}, calls ${row.calls}, failed ${row.failed}, ` +
      `last 2 s shares % ${JSON.stringify(row.lastTwoSecondsSharePercent)}`,
  )
  v.client.close()
}
// Server side: the old pods' connections (both clients) opened during the scale-up, and closed.
const connections = Object.fromEntries(
  svc.pods.map((p) => [
    p.name,
    { openedDuringRun: p.connections.opened - (opened.get(p.name) ?? 0), closed: p.connections.closed },
  ]),
)
results.connections = connections
console.log(`connections per pod (server side): ${JSON.stringify(connections)}`)
if (values.json) console.log(JSON.stringify(results))
await lab.close()
