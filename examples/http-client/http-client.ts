// The HTTP client against a headless service, end to end: a lab cluster (real BIND DNS and pods
// on loopback) with a 3-pod StatefulSet, then per-request balancing, a retry around a killed pod,
// primary/replica routing and the agent.
//
//   npx node --import ./scripts/ts-resolve.mjs examples/http-client/http-client.ts
//
// In a cluster, drop the lab and point `origin` at your service:
//   createClient({ origin: 'http://web.default.svc.cluster.local:8080' })
import { fileURLToPath } from 'node:url'
import { fetch } from 'undici'
import { startLab } from '../../lab/index.js'
import { runInPrivateNetwork } from '../../lab/private-network.js'
import { createClient, HeadlessAgent } from '../../src/index.js'

if (runInPrivateNetwork(fileURLToPath(import.meta.url))) {
  await using lab = await startLab()
  const web = await lab.addService({ name: 'web', kind: 'headless', replicas: 3 })
  const dns = { servers: [lab.dnsServer], search: [], ndots: 1 } // in a cluster: leave out

  await using client = createClient({
    origin: `http://${web.fqdn}:${web.port}`,
    portName: 'http', // SRV: endpoints carry the pod names
    dns,
    primary: { ordinal: 0 }, // web-0 takes the writes; reads go to replicas
    retry: { retries: 2 },
    timeouts: { connect: 1_000, headers: 5_000 },
  })
  client.on('retry', (e) => console.log(`  retry: ${e.kind} on ${e.endpoint.name}`))

  console.log('GETs (replicas, round-robin):')
  for (let i = 0; i < 4; i++) {
    const { headers, body } = await client.request('/users/1')
    await body.dump()
    console.log(`  ${headers['x-pod']}`)
  }

  const res = await client.fetch('/orders', { method: 'POST', body: JSON.stringify({ item: 42 }) })
  console.log(`POST went to ${res.headers.get('x-pod')} (the primary), status ${res.status}`)
  await res.arrayBuffer()

  console.log('web-2 crashes (connects refused, DNS unchanged):')
  await web.pod('web-2').kill()
  for (let i = 0; i < 4; i++) {
    const { headers, body } = await client.request('/users/1')
    await body.dump()
    console.log(`  ${headers['x-pod']}`)
  }
  console.log('http stats', client.stats())

  await using agent = new HeadlessAgent({ services: { [web.fqdn]: { portName: 'http', dns } } })
  const viaAgent = await fetch(`http://${web.fqdn}:${web.port}/`, { dispatcher: agent })
  console.log(`undici fetch through HeadlessAgent reached ${viaAgent.headers.get('x-pod')}`)
  await viaAgent.arrayBuffer()
}
