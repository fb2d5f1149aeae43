// The gRPC example on this machine: a lab cluster (real BIND DNS) whose headless service `rpc`
// has 3 pods running examples/grpc/server.ts's Echo server on 127.0.30.x, and the client of
// examples/grpc/client.ts calling it; then a fourth pod is started and added to DNS, and the
// client's calls spread to it within one TTL, on the connections it already had.
//
//   npx node --import ./scripts/ts-resolve.mjs examples/grpc/main.ts
import { fileURLToPath } from 'node:url'
import { startLab } from '../../lab/index.js'
import { runInPrivateNetwork } from '../../lab/private-network.js'
import { createEchoClient, tally } from './client.js'
import { startEchoServer } from './server.js'

const PORT = 50051
const IPS = ['127.0.30.1', '127.0.30.2', '127.0.30.3', '127.0.30.4']

/** Runs the walk-through; returns what each step's calls reached (also printed). */
export async function runGrpcExample(log: (line: string) => void = console.log) {
  await using lab = await startLab({ ttl: 2 })
  const servers = await Promise.all(IPS.slice(0, 3).map((ip, i) => startEchoServer(ip, PORT, `rpc-${i}`)))
  // DNS only: the lab publishes the pods' records; the servers above are the pods.
  const rpc = await lab.addService({
    name: 'rpc',
    kind: 'headless',
    servePods: false,
    podIps: IPS,
    replicas: 3,
    port: PORT,
    ports: [{ name: 'grpc', port: PORT }],
  })
  // In a cluster: createEchoClient('headless:///rpc.default.svc.cluster.local:50051'), no options.
  const client = createEchoClient(`headless:///${rpc.fqdn}:${PORT}`, {
    dns: { servers: [lab.dnsServer], search: [], ndots: 1 },
    minRefresh: 200,
  })
  try {
    const show = (title: string, counts: Map<string, number>) => {
      log(title)
      for (const [pod, n] of counts) log(`  ${pod.padEnd(8)} ${String(n).padStart(3)}  ${'#'.repeat(n / 2)}`)
    }
    const before = await tally(client, 60)
    show('3 pods, 60 calls (round_robin over every pod):', before)

    servers.push(await startEchoServer(IPS[3]!, PORT, 'rpc-3'))
    await rpc.scale(4)
    log('rpc-3 started and added to DNS; calls go on:')
    const deadline = Date.now() + 10_000
    let after = await tally(client, 20)
    while (!after.has('rpc-3') && Date.now() < deadline) after = await tally(client, 20)
    after = await tally(client, 80)
    show('4 pods, the next 80 calls:', after)
    return { before, after }
  } finally {
    client.close()
    await Promise.all(servers.map((s) => new Promise<void>((done) => s.tryShutdown(() => done()))))
  }
}

if (
  process.argv[1] === fileURLToPath(import.meta.url) &&
  runInPrivateNetwork(fileURLToPath(import.meta.url))
) {
  await runGrpcExample()
}
