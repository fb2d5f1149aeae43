// The headless-lb demo: the same three pods behind a ClusterIP service and behind a headless
// service, on a real DNS server (BIND 9) and real HTTP servers on loopback (the test lab).
//   npm run demo
// It shows (1) connection pinning through a ClusterIP VIP with keep-alive, (2) per-request
// balancing with headless-lb, (3) a pod killed mid-run: no failed request, the pod ejected.
import { Pool as UndiciPool, request as undiciRequest } from 'undici'
import { startLab } from '../../lab/index.js'
import { runInPrivateNetwork } from '../../lab/private-network.js'
import { runCli } from '../../src/cli/run-cli.js'
import { createClient, type EjectEvent } from '../../src/index.js'

const REQUESTS = 600
const CONCURRENCY = 8
const CONNECTIONS = 2

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
    `2. Headless service ${web.fqdn} with headless-lb (round-robin per request)`,
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

  // 4. The CLI's diagnosis of both services, from their DNS answers alone.
  for (const service of [vip.fqdn, web.fqdn]) {
    console.log(`\n4. headless-lb doctor ${service} --dns-server ${lab.dnsServer}`)
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
