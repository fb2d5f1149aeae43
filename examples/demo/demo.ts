// The headless-lb demo: the same three pods behind a ClusterIP service and behind a headless
// service, on a real DNS server (BIND 9) and real HTTP servers on loopback (the test lab).
//   npm run demo
// It shows (1) connection pinning through a ClusterIP VIP with keep-alive, (2) per-request
// balancing with headless-lb, (3) a pod killed mid-run: no failed request, the pod ejected,
// (4) a pod that turns slow (2 s) under a 1 s deadline and (5) a pod that answers 503: the VIP
// and headless-lb side by side.
import { Pool as UndiciPool, request as undiciRequest } from 'undici'
import { type LabService, type PodFault, startLab } from '../../lab/index.js'
import { runInPrivateNetwork } from '../../lab/private-network.js'
import { runCli } from '../../src/cli/run-cli.js'
import { createClient, type EjectEvent } from '../../src/index.js'

const REQUESTS = 600
const CONCURRENCY = 8
const CONNECTIONS = 2
// Act 4: one pod answers in SLOW_MS, every request gives up after DEADLINE_MS.
const SLOW_MS = 2_000
const DEADLINE_MS = 1_000
const SICK_RUN_MS = 2_500
const WARM_UP_MS = 300

/** One sick-pod act: what the last pod of each service does, and how the act introduces it. */
interface SickPod {
  readonly fault: PodFault
  /** What the sick pods do, completing "Now <pod> and <pod> ...". */
  readonly does: string
}

async function run(
  send: () => Promise<string>,
  count: number,
): Promise<{ byPod: Map<string, number>; failed: number }> {
  const byPod = new Map<string, number>()
  let failed = 0
  let started = 0
  async function worker(): Promise<void> {
    while (started < count) {
      started++
      try {
        const pod = await send()
        byPod.set(pod, (byPod.get(pod) ?? 0) + 1)
      } catch {
        failed++
      }
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  return { byPod, failed }
}

function show(
  title: string,
  pods: ReadonlyArray<string>,
  result: { byPod: Map<string, number>; failed: number },
): void {
  console.log(`\n${title}`)
  const total = [...result.byPod.values()].reduce((a, b) => a + b, 0)
  for (const pod of pods) {
    const n = result.byPod.get(pod) ?? 0
    const bar = '#'.repeat(Math.round((n / Math.max(total, 1)) * 40))
    console.log(`  ${pod.padEnd(26)} ${String(n).padStart(4)}  ${bar}${n === 0 ? '(idle)' : ''}`)
  }
  console.log(`  failed requests: ${result.failed}`)
}

interface TimedResult {
  readonly ok: number
  readonly failed: number
}

/** CONCURRENCY closed loops for `ms`, each request under its own AbortSignal.timeout(DEADLINE_MS). */
async function runFor(send: (signal: AbortSignal) => Promise<void>, ms: number): Promise<TimedResult> {
  const end = performance.now() + ms
  let ok = 0
  let failed = 0
  async function worker(): Promise<void> {
    while (performance.now() < end) {
      try {
        await send(AbortSignal.timeout(DEADLINE_MS))
        ok++
      } catch {
        failed++
      }
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  return { ok, failed }
}

function percent(part: number, whole: number): string {
  return `${((100 * part) / Math.max(whole, 1)).toFixed(1)} %`
}

function bar(part: number, whole: number): string {
  return '#'.repeat(Math.round((part / Math.max(whole, 1)) * 40))
}

/** Requests each pod of `service` received (counted as they arrive, answered or not). */
function received(service: LabService): { sick: number; total: number } {
  const total = service.pods.reduce((sum, pod) => sum + pod.requests.total, 0)
  return { sick: service.pods.at(-1)!.requests.total, total }
}

/**
 * A sick pod, not a dead one: the last pod of each service turns sick (`sick.fault`) while every
 * caller gives up at DEADLINE_MS. A fresh VIP pool (its connections opened with every pod up) and a
 * fresh headless-lb client with the defaults, the same load at the same time.
 */
async function sickPodAct(dnsServer: string, web: LabService, vip: LabService, sick: SickPod): Promise<void> {
  const sickWeb = web.pods.at(-1)!
  const sickVip = vip.pods.at(-1)!
  console.log(`   Now ${sickWeb.name} and ${sickVip.name} ${sick.does}; every request gives up after`)
  console.log(
    `   ${DEADLINE_MS / 1_000} s (AbortSignal.timeout(${DEADLINE_MS})). ${CONCURRENCY} loops for ${SICK_RUN_MS / 1_000} s on each side, at the same time: a fresh`,
  )
  console.log(
    `   VIP pool of ${CONCURRENCY} keep-alive connections, a fresh headless-lb client with the defaults`,
  )
  const vipOrigin = `http://${vip.clusterIP}:${vip.port}`
  const vipPool = new UndiciPool(vipOrigin, { connections: CONCURRENCY })
  await using client = createClient({
    origin: `http://${web.fqdn}:${web.port}`,
    dns: { servers: [dnsServer] },
  })
  await client.pool.ready()
  client.pool.on('eject', (event: EjectEvent) => {
    // Without SRV the client knows addresses only; the pod's name comes from the lab.
    const pod = web.pods.find((p) => p.ip === event.endpoint.address)?.name
    console.log(`  event: eject ${event.endpoint.address}:${event.endpoint.port} (${pod}, ${event.reason})`)
  })
  const viaVip = async (signal: AbortSignal): Promise<void> => {
    const res = await undiciRequest(`${vipOrigin}/`, { dispatcher: vipPool, signal })
    await res.body.dump()
    if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`)
  }
  const viaHeadless = async (signal: AbortSignal): Promise<void> => {
    const res = await client.request('/', { signal })
    await res.body.dump()
    if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`)
  }
  // Healthy first: connections open to every pod, headless-lb learns what normal latency is.
  await Promise.all([runFor(viaVip, WARM_UP_MS), runFor(viaHeadless, WARM_UP_MS)])
  const onSickPod = sickVip.connections.open
  const vipConnections = vip.pods.reduce((sum, pod) => sum + pod.connections.open, 0)
  console.log(
    `   (the VIP pool's ${vipConnections} connections: ${onSickPod} to ${sickVip.name}, opened with every pod up)`,
  )
  for (const pod of [...vip.pods, ...web.pods]) pod.resetCounters()
  sickVip.fault(sick.fault)
  sickWeb.fault(sick.fault)
  const [vipResult, headlessResult] = await Promise.all([
    runFor(viaVip, SICK_RUN_MS),
    runFor(viaHeadless, SICK_RUN_MS),
  ])
  const balancer = client.pool.stats().balancer
  const rows = [
    { label: 'ClusterIP VIP', result: vipResult, pods: received(vip) },
    { label: `headless-lb (defaults: ${balancer})`, result: headlessResult, pods: received(web) },
  ]
  await vipPool.destroy()
  sickVip.fault({ kind: 'none' })
  sickWeb.fault({ kind: 'none' })
  console.log(`   answered, with a 200, within ${DEADLINE_MS / 1_000} s:`)
  for (const { label, result } of rows) {
    const sent = result.ok + result.failed
    const bars = bar(result.ok, sent).padEnd(40)
    console.log(
      `  ${label.padEnd(36)} ${percent(result.ok, sent).padStart(7)}  ${bars}  ${result.failed} of ${sent} failed`,
    )
  }
  console.log(`   share of the requests the sick pod received (fair share ${percent(1, web.pods.length)}):`)
  for (const { label, pods } of rows) {
    const bars = bar(pods.sick, pods.total).padEnd(40)
    console.log(
      `  ${label.padEnd(36)} ${percent(pods.sick, pods.total).padStart(7)}  ${bars}  ${pods.sick} of ${pods.total}`,
    )
  }
}

async function main(): Promise<void> {
  await using lab = await startLab({ ttl: 1 })
  const web = await lab.addService({ name: 'web', kind: 'headless', workload: 'statefulset', replicas: 3 })
  const vip = await lab.addService({
    name: 'web-vip',
    kind: 'clusterIP',
    workload: 'deployment',
    replicas: 3,
  })
  console.log(`headless-lb demo: DNS (BIND 9) on ${lab.dnsServer}, ${REQUESTS} keep-alive requests,`)
  console.log(`${CONCURRENCY} in flight, ${CONNECTIONS} connections per destination`)

  // 1. ClusterIP: one VIP; the lab's proxy, like kube-proxy, picks a pod per *connection*.
  const vipPool = new UndiciPool(`http://${vip.clusterIP}:${vip.port}`, { connections: CONNECTIONS })
  const viaVip = await run(async () => {
    const res = await undiciRequest(`http://${vip.clusterIP}:${vip.port}/`, { dispatcher: vipPool })
    await res.body.dump()
    return String(res.headers['x-pod'])
  }, REQUESTS)
  await vipPool.close()
  show(
    `1. ClusterIP service ${vip.fqdn} (VIP ${vip.clusterIP}): connections are balanced, not requests`,
    vip.pods.map((p) => p.name),
    viaVip,
  )

  // 2. Headless service + headless-lb: every request picks a pod.
  await using client = createClient({
    origin: `http://${web.fqdn}:${web.port}`,
    // SRV (_http._tcp.web...) gives the pods' stable names (web-0, web-1...), not only their IPs.
    portName: 'http',
    dns: { servers: [lab.dnsServer] },
    connections: CONNECTIONS,
  })
  await client.pool.ready()
  const send = async (): Promise<string> => {
    const res = await client.request('/')
    await res.body.dump()
    return String(res.headers['x-pod'])
  }
  show(
    `2. Headless service ${web.fqdn} with headless-lb (${client.pool.stats().balancer}, a pod per request)`,
    web.pods.map((p) => p.name),
    await run(send, REQUESTS),
  )

  // 3. Kill a pod while requests flow; DNS still lists it (as right after a crash).
  const victim = web.pods[1]!
  client.pool.on('eject', (event: EjectEvent) => {
    console.log(`  event: eject ${event.endpoint.name ?? event.endpoint.id} (${event.reason})`)
  })
  console.log(`\n3. ${victim.name} is killed mid-run (connections refused; its DNS record stays)`)
  const during = run(send, REQUESTS)
  setTimeout(() => void victim.kill(), 20)
  const result = await during
  show(
    `   after the kill: every request answered by a live pod`,
    web.pods.map((p) => p.name),
    result,
  )

  // 4. A slow pod: web-1 comes back first (the act needs every pod), then one pod of each service
  // turns slow.
  await victim.restart()
  console.log(`\n4. A slow pod, not a dead one. ${victim.name} is back first, so every pod is up.`)
  await sickPodAct(lab.dnsServer, web, vip, {
    fault: { kind: 'slow', latencyMs: SLOW_MS },
    does: `answer in ${SLOW_MS / 1_000} s`,
  })
  // With HTTP/1.1 a timed-out request closes its connection, so the VIP re-rolls it onto another
  // pod and copes with a slow pod about as well; a pod that answers fast with errors keeps its
  // connections, and the VIP keeps sending it its share.
  console.log(`\n5. A pod that fails fast: every answer a 503 (the connection stays open).`)
  await sickPodAct(lab.dnsServer, web, vip, {
    fault: { kind: 'errors', ratio: 1, status: 503 },
    does: 'answer every request with a 503',
  })

  // 6. The CLI's diagnosis of both services, from their DNS answers alone.
  for (const service of [vip.fqdn, web.fqdn]) {
    console.log(`\n6. headless-lb doctor ${service} --dns-server ${lab.dnsServer}`)
    await runCli(['doctor', service, '--dns-server', lab.dnsServer], {
      stdout: process.stdout,
      stderr: process.stderr,
    })
  }
  console.log('\nRun it against your cluster: npx headless-lb doctor <service> (docs/discovery.md)')
}

if (runInPrivateNetwork(new URL(import.meta.url).pathname)) {
  main().catch((error: unknown) => {
    console.error(error)
    process.exitCode = 1
  })
}
