/**
 * The container tier: the lab's scenario with a real CoreDNS and pods as containers on one
 * Docker network. CoreDNS's kubernetes plugin needs an API server, so CoreDNS serves the zone
 * that the lab's record generator (lab/dns-records.ts) writes for the containers' IPs,
 * with its `file` plugin: the same answers, from the DNS server clusters actually run. Queries
 * and HTTP requests come from a client container on the same network.
 */
import {
  GenericContainer,
  Network,
  type StartedNetwork,
  type StartedTestContainer,
  Wait,
} from 'testcontainers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clusterRecords, type ServiceDescription, zoneFile } from '../../lab/dns-records.js'
import { detectContainerEngine } from './container-engine.js'

const engine = detectContainerEngine()
if (!engine.available) console.log(`container tier skipped: ${engine.reason}`)

const NODE_IMAGE = 'node:24-alpine'
const COREDNS_IMAGE = 'coredns/coredns:1.11.3'

// A pod: the lab's pod server in miniature (x-pod header, JSON body, /healthz).
const POD_SCRIPT = `
const http = require('node:http')
http.createServer((req, res) => {
  const body = JSON.stringify({ pod: process.env.POD_NAME, method: req.method, url: req.url, host: req.headers.host })
  res.writeHead(200, { 'content-type': 'application/json', 'x-pod': process.env.POD_NAME })
  res.end(body)
}).listen(8080, '0.0.0.0')
`

// Runs in the client container: DNS queries against CoreDNS and a GET to every address found.
const CLIENT_SCRIPT = `
const { Resolver } = require('node:dns').promises
const http = require('node:http')
const dns = new Resolver({ timeout: 1000, tries: 3 })
dns.setServers([process.env.DNS])
const code = (p) => p.then(() => 'ok', (e) => e.code)
const get = (host) => new Promise((resolve, reject) => {
  http.get({ host, port: 8080, path: '/', agent: false }, (res) => { res.resume(); resolve(res.headers['x-pod']) }).on('error', reject)
})
;(async () => {
  const webIps = (await dns.resolve4('web.default.svc.cluster.local')).sort()
  const out = {
    webIps,
    web0: await dns.resolve4('web-0.web.default.svc.cluster.local'),
    webSrv: (await dns.resolveSrv('_http._tcp.web.default.svc.cluster.local')).map((s) => s.name + ':' + s.port + ':' + s.weight).sort(),
    webPods: (await Promise.all(webIps.map(get))).sort(),
    shopIps: (await dns.resolve4('shop.default.svc.cluster.local')).sort(),
    apiIps: await dns.resolve4('api.default.svc.cluster.local'),
    emptyCode: await code(dns.resolve4('empty.default.svc.cluster.local')),
  }
  console.log(JSON.stringify(out))
})().catch((e) => { console.log(JSON.stringify({ error: String(e) })); process.exit(1) })
`

describe.skipIf(!engine.available)(`the lab scenario on containers (${engine.reason})`, () => {
  let network: StartedNetwork
  const containers: StartedTestContainer[] = []
  const ips: Record<string, string> = {}
  let client: StartedTestContainer
  let coredns: StartedTestContainer

  async function startPod(name: string): Promise<void> {
    const pod = await new GenericContainer(NODE_IMAGE)
      .withNetwork(network)
      .withEnvironment({ POD_NAME: name })
      .withCommand(['node', '-e', POD_SCRIPT])
      .withExposedPorts(8080)
      .withWaitStrategy(Wait.forListeningPorts())
      .start()
    containers.push(pod)
    ips[name] = pod.getIpAddress(network.getName())
  }

  beforeAll(async () => {
    network = await new Network().start()
    const web = ['web-0', 'web-1', 'web-2']
    const shop = ['shop-7d4b9c8f6d-x2x9k', 'shop-7d4b9c8f6d-q8r4m']
    await Promise.all([...web, ...shop].map(startPod))
    const http = { name: 'http', port: 8080, protocol: 'tcp' as const }
    const services: ServiceDescription[] = [
      {
        name: 'web',
        namespace: 'default',
        kind: 'headless',
        ports: [http],
        endpoints: web.map((n) => ({ ip: ips[n]!, hostname: n, ready: true, ports: [http] })),
      },
      {
        name: 'shop',
        namespace: 'default',
        kind: 'headless',
        ports: [http],
        endpoints: shop.map((n) => ({ ip: ips[n]!, ready: true, ports: [http] })),
      },
      // No kube-proxy here: the VIP is only checked in DNS.
      {
        name: 'api',
        namespace: 'default',
        kind: 'clusterIP',
        clusterIP: '10.96.0.20',
        ports: [http],
        endpoints: [],
      },
      {
        name: 'empty',
        namespace: 'default',
        kind: 'headless',
        ports: [http],
        endpoints: [{ ip: ips['web-0']!, hostname: 'empty-0', ready: false, ports: [http] }],
      },
    ]
    const zone = zoneFile(
      clusterRecords({ zone: 'cluster.local', ttl: 5, dnsAddress: '127.0.0.1', services }),
    )
    coredns = await new GenericContainer(COREDNS_IMAGE)
      .withNetwork(network)
      .withCopyContentToContainer([
        {
          content: 'cluster.local:53 {\n  file /etc/coredns/cluster.local.db cluster.local\n  errors\n}\n',
          target: '/etc/coredns/Corefile',
        },
        { content: zone, target: '/etc/coredns/cluster.local.db' },
      ])
      .withCommand(['-conf', '/etc/coredns/Corefile'])
      .withWaitStrategy(Wait.forLogMessage(/CoreDNS-/))
      .start()
    containers.push(coredns)
    client = await new GenericContainer(NODE_IMAGE)
      .withNetwork(network)
      .withCommand(['node', '-e', 'setInterval(() => {}, 1 << 30)'])
      .start()
    containers.push(client)
  })

  afterAll(async () => {
    await Promise.allSettled(containers.map((c) => c.stop()))
    await network?.stop()
  })

  it('CoreDNS serves the four cases and every pod answers with its name', async () => {
    const dnsIp = coredns.getIpAddress(network.getName())
    const result = await client.exec(['node', '-e', CLIENT_SCRIPT], { env: { DNS: `${dnsIp}:53` } })
    expect(result.exitCode, result.output).toBe(0)
    const out = JSON.parse(result.output.trim().split('\n').at(-1)!) as Record<string, unknown>
    const webIps = ['web-0', 'web-1', 'web-2'].map((n) => ips[n]!).sort()
    expect(out.webIps).toEqual(webIps)
    expect(out.web0).toEqual([ips['web-0']])
    expect(out.webSrv).toEqual(
      ['web-0', 'web-1', 'web-2'].map((n) => `${n}.web.default.svc.cluster.local:8080:33`),
    )
    expect(out.webPods).toEqual(['web-0', 'web-1', 'web-2'])
    expect(out.shopIps).toHaveLength(2)
    expect(out.apiIps).toEqual(['10.96.0.20'])
    expect(out.emptyCode).toBe('ENOTFOUND')
  })
})

// vitest fails a file without tests; this one always runs and says why the tier skipped.
it(`container engine: ${engine.reason}`, () => {
  expect(engine.reason).not.toBe('')
})
