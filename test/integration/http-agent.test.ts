import { once } from 'node:events'
import http from 'node:http'
import https from 'node:https'
import axios from 'axios'
import got from 'got'
import fetch from 'node-fetch'
import superagent from 'superagent'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Lab, type LabService, startLab } from '../../lab/index.js'
import {
  HeadlessHttpAgent,
  type HeadlessHttpAgentOptions,
  HeadlessHttpsAgent,
} from '../../src/http/headless-http-agent.js'
import type { EjectEvent, PoolStats } from '../../src/pool.js'
import { nextEvent } from '../support/next-event.js'
import { selfSignedCertificate } from '../support/self-signed-certificate.js'
import { until } from '../support/until.js'

let lab: Lab
const agents: HeadlessHttpAgent[] = []

beforeAll(async () => {
  lab = await startLab({ ttl: 1 })
})
afterAll(async () => {
  for (const a of agents) a.destroy()
  await lab?.close()
})

function labAgent(
  svc: LabService,
  extra: Partial<HeadlessHttpAgentOptions> = {},
  balancer: 'round-robin' | 'least-request' = 'round-robin',
): HeadlessHttpAgent {
  const agent = new HeadlessHttpAgent({
    services: {
      [svc.fqdn]: {
        portName: 'http',
        balancer,
        dns: { servers: [lab.dnsServer], search: [], ndots: 1 },
        minRefresh: 500,
        maxRefresh: 2_000,
      },
    },
    ...extra,
  })
  agents.push(agent)
  return agent
}

interface Answer {
  readonly pod: string
  readonly host: string
  readonly reused: boolean
}

/** One GET with node:http, through the agent: which pod answered, the Host it saw, and whether the socket was reused. */
function httpGet(agent: http.Agent, url: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (body += chunk))
      res.on('end', () => {
        const parsed = JSON.parse(body) as { pod: string; host: string }
        resolve({ pod: parsed.pod, host: parsed.host, reused: req.reusedSocket })
      })
      res.on('error', reject)
    })
    req.on('error', reject)
  })
}

type Get = (url: string) => Promise<{ pod: string; host: string }>

/** `total` GETs in `concurrency` loops; the count per pod. */
async function spread(
  get: Get,
  url: string,
  total: number,
  concurrency: number,
): Promise<Map<string, number>> {
  const byPod = new Map<string, number>()
  let left = total
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (left-- > 0) {
        const { pod } = await get(url)
        byPod.set(pod, (byPod.get(pod) ?? 0) + 1)
      }
    }),
  )
  return byPod
}

function expectEven(byPod: Map<string, number>, pods: number, total: number): void {
  expect(byPod.size).toBe(pods)
  for (const n of byPod.values())
    expect(Math.abs(n - total / pods)).toBeLessThanOrEqual((0.15 * total) / pods)
}

describe('HeadlessHttpAgent: node:http and the libraries on it, balanced per request', () => {
  const clients: ReadonlyArray<[string, (agent: HeadlessHttpAgent) => Get]> = [
    ['http.request', (agent) => (url) => httpGet(agent, url)],
    ['axios', (agent) => async (url) => (await axios.get(url, { httpAgent: agent })).data],
    ['got', (agent) => (url) => got(url, { agent: { http: agent } }).json()],
    ['node-fetch', (agent) => async (url) => (await fetch(url, { agent })).json() as Promise<Answer>],
    ['superagent', (agent) => async (url) => (await superagent.get(url).agent(agent)).body as Answer],
  ]

  for (const [name, make] of clients) {
    it(`${name}: 300 GETs over 3 pods on keep-alive sockets, each pod within 15% of its share, Host the service name`, async () => {
      const svc = await lab.addService({
        name: `agent-${name.replace(/\W/g, '')}`,
        kind: 'headless',
        replicas: 3,
      })
      // least-request (P2C on requests in flight): round-robin, the default, would split 100/100/100 by construction.
      const agent = labAgent(svc, {}, 'least-request')
      const url = `http://${svc.fqdn}:${svc.port}/x`
      const hosts = new Set<string>()
      const get = make(agent)
      const byPod = await spread(
        async (u) => {
          const answer = await get(u)
          hosts.add(answer.host)
          return answer
        },
        url,
        300,
        6,
      )
      expectEven(byPod, 3, 300)
      expect(hosts).toEqual(new Set([`${svc.fqdn}:${svc.port}`]))
      const [stats] = agent.services.map((s) => s.stats())
      // Keep-alive: a handful of sockets per pod carried the 300 requests.
      expect(stats?.sockets).toBeLessThanOrEqual(3 * 6)
      expect(stats?.requests).toBe(300)
      console.log(
        `${name}: ${[...byPod].map(([pod, n]) => `${pod} ${n}`).join(', ')}; sockets ${stats?.sockets}`,
      )
      await agent.close()
      expect(agent.services.map((s) => s.stats().sockets)).toEqual([0])
    })
  }

  it('reuses keep-alive sockets, one pool per pod: after warm-up every request rides a reused socket', async () => {
    const svc = await lab.addService({ name: 'agent-reuse', kind: 'headless', replicas: 3 })
    const agent = labAgent(svc)
    const url = `http://${svc.fqdn}:${svc.port}/`
    for (let i = 0; i < 3; i++) await httpGet(agent, url)
    const answers: Answer[] = []
    for (let i = 0; i < 30; i++) answers.push(await httpGet(agent, url))
    expect(answers.every((a) => a.reused)).toBe(true)
    expect(new Set(answers.map((a) => a.pod)).size).toBe(3)
    expect(agent.services[0]?.stats().sockets).toBe(3)
  })

  it('a pod killed under load costs at most the requests in flight on it, and gets no request afterwards', async () => {
    const svc = await lab.addService({ name: 'agent-kill', kind: 'headless', replicas: 3 })
    const agent = labAgent(svc)
    const url = `http://${svc.fqdn}:${svc.port}/`
    // So that requests are in flight on the victim when it dies.
    for (const pod of svc.pods) pod.fault({ kind: 'slow', latencyMs: 20 })
    let running = true
    let ok = 0
    const failures: unknown[] = []
    const loops = Array.from({ length: 6 }, async () => {
      while (running) {
        try {
          await httpGet(agent, url)
          ok++
        } catch (error) {
          failures.push(error)
        }
      }
    })
    await until('traffic on every pod', () => svc.pods.every((p) => p.requests.total > 10))
    const victim = svc.pod('agent-kill-1')
    const pool = agent.services[0]?.pool
    if (pool === undefined) throw new Error('no pool')
    const ejected = nextEvent<EjectEvent>(pool as never, 'eject', (e) => e.endpoint.name === victim.name)
    const victimStats = () => {
      const stats = (pool as unknown as { stats(): PoolStats }).stats()
      const entry = stats.endpoints.find((e) => e.endpoint.name === victim.name)
      return { inFlight: entry?.inFlight ?? 0, leases: entry?.requests ?? 0 }
    }
    const inFlight = victimStats().inFlight
    await victim.kill()
    await ejected
    const leasesAtEjection = victimStats().leases
    const afterEject = ok
    await until('150 more requests', () => ok >= afterEject + 150)
    running = false
    await Promise.all(loops)
    console.log(`kill: ${failures.length} failed, ${inFlight} in flight on the victim at the kill, ${ok} ok`)
    expect(failures.length).toBeLessThanOrEqual(inFlight)
    // Ejected at its first refused connect, the dead pod is not picked again: no lease, no connect.
    expect(victimStats().leases).toBe(leasesAtEjection)
  })

  it('a refused connect is retried on another pod inside the agent: the caller sees no error', async () => {
    const svc = await lab.addService({ name: 'agent-refused', kind: 'headless', replicas: 3 })
    await svc.pod('agent-refused-0').kill()
    const agent = labAgent(svc)
    const url = `http://${svc.fqdn}:${svc.port}/`
    const answers: Answer[] = []
    // POST too: a refused connect sent nothing, so any method may go elsewhere.
    for (let i = 0; i < 6; i++) answers.push(await httpGet(agent, url))
    const post = await new Promise<number>((resolve, reject) => {
      const req = http.request(url, { agent, method: 'POST' }, (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
      })
      req.on('error', reject)
      req.end('{}')
    })
    expect(post).toBe(200)
    expect(answers.every((a) => a.pod !== 'agent-refused-0')).toBe(true)
    expect(agent.services[0]?.stats().connectRetries).toBeGreaterThanOrEqual(1)
  })

  it('other hosts pass through a plain Agent with their own Host header', async () => {
    const server = http.createServer((req, res) =>
      res.end(JSON.stringify({ pod: 'plain', host: req.headers.host })),
    )
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    try {
      const svc = await lab.addService({ name: 'agent-pass', kind: 'headless', replicas: 1 })
      const agent = labAgent(svc)
      const { port } = server.address() as { port: number }
      const answer = await httpGet(agent, `http://127.0.0.1:${port}/`)
      expect(answer).toMatchObject({ pod: 'plain', host: `127.0.0.1:${port}` })
      expect(agent.services).toHaveLength(0)
      await agent.close()
    } finally {
      server.closeAllConnections()
      server.close()
    }
  })

  it('close() waits for the request in flight, then leaves no socket; requests after it fail with ClosedError', async () => {
    const svc = await lab.addService({ name: 'agent-close', kind: 'headless', replicas: 2 })
    const agent = labAgent(svc)
    const url = `http://${svc.fqdn}:${svc.port}/`
    await httpGet(agent, url)
    for (const pod of svc.pods) pod.fault({ kind: 'slow', latencyMs: 100 })
    const inFlight = httpGet(agent, url)
    await until('the request to reach a pod', () => svc.pods.reduce((n, p) => n + p.requests.total, 0) === 2)
    const closed = agent.close()
    await expect(inFlight).resolves.toMatchObject({ host: `${svc.fqdn}:${svc.port}` })
    await closed
    expect(agent.services[0]?.stats().sockets).toBe(0)
    await expect(httpGet(agent, url)).rejects.toMatchObject({ code: 'HLB_ERR_CLOSED' })
  })
})

describe('HeadlessHttpsAgent: TLS to pod IPs by the service name', () => {
  it('SNI, the certificate check and Host are the service name; axios and got balance over both pods', async () => {
    const svc = await lab.addService({ name: 'agent-tls', kind: 'headless', replicas: 2, servePods: false })
    const tls = selfSignedCertificate([svc.fqdn])
    const seen: string[] = []
    const servers = await Promise.all(
      svc.pods.map(async (pod) => {
        const server = https.createServer(tls, (req, res) => {
          seen.push(`${(req.socket as { servername?: string }).servername} ${req.headers.host}`)
          res.end(JSON.stringify({ pod: pod.name, host: req.headers.host }))
        })
        server.listen(pod.port, pod.ip)
        await once(server, 'listening')
        return server
      }),
    )
    const agent = new HeadlessHttpsAgent({
      services: {
        [svc.fqdn]: {
          portName: 'http',
          balancer: 'round-robin',
          dns: { servers: [lab.dnsServer], search: [], ndots: 1 },
        },
      },
      tls: { ca: tls.cert },
    })
    try {
      const url = `https://${svc.fqdn}:${svc.port}/`
      const pods: string[] = []
      for (let i = 0; i < 4; i++) pods.push((await axios.get(url, { httpsAgent: agent })).data.pod)
      for (let i = 0; i < 4; i++) pods.push((await got(url, { agent: { https: agent } }).json<Answer>()).pod)
      expect(pods.filter((p) => p === 'agent-tls-0')).toHaveLength(4)
      expect(pods.filter((p) => p === 'agent-tls-1')).toHaveLength(4)
      expect(new Set(seen)).toEqual(new Set([`${svc.fqdn} ${svc.fqdn}:${svc.port}`]))
    } finally {
      await agent.close()
      for (const server of servers) {
        server.closeAllConnections()
        server.close()
      }
    }
  })
})
