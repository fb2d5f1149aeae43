import { Resolver } from 'node:dns/promises'
import { Agent, request } from 'node:http'
import { connect } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Lab, type LabPod, LabUnsupportedError, startLab } from './index.js'

let lab: Lab
let dns: Resolver

beforeAll(async () => {
  lab = await startLab()
  dns = new Resolver({ timeout: 500, tries: 3 })
  dns.setServers([lab.dnsServer])
})

afterAll(async () => {
  await lab?.close()
})

interface Reply {
  status: number
  pod: string | undefined
  body: Record<string, unknown>
  ms: number
}

/** One HTTP request on a fresh connection (unless an agent is given). Rejects on a connect error or `timeout`. */
function send(
  host: string,
  port: number,
  options: {
    method?: string
    path?: string
    body?: string
    timeout?: number
    agent?: Agent
    headers?: Record<string, string>
  } = {},
): Promise<Reply> {
  const started = performance.now()
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host,
        port,
        method: options.method ?? 'GET',
        path: options.path ?? '/',
        agent: options.agent ?? false,
        ...(options.headers ? { headers: options.headers } : {}),
      },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => (text += c))
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            pod: res.headers['x-pod'] as string | undefined,
            body: JSON.parse(text) as Record<string, unknown>,
            ms: performance.now() - started,
          }),
        )
      },
    )
    if (options.timeout !== undefined) {
      req.setTimeout(options.timeout, () =>
        req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })),
      )
    }
    req.on('error', reject)
    req.end(options.body)
  })
}

async function errorCode(work: Promise<unknown>): Promise<string | undefined> {
  try {
    await work
    return undefined
  } catch (error) {
    return (error as { code?: string }).code
  }
}

/** Resolves 'connected', 'refused' or 'timeout' for a bare TCP connect. */
function tcpConnect(
  host: string,
  port: number,
  timeoutMs: number,
): Promise<'connected' | 'refused' | 'timeout'> {
  return new Promise((resolve) => {
    const socket = connect({ host, port })
    const timer = setTimeout(() => {
      socket.destroy()
      resolve('timeout')
    }, timeoutMs)
    socket.once('connect', () => {
      clearTimeout(timer)
      socket.destroy()
      resolve('connected')
    })
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      resolve(error.code === 'ECONNREFUSED' ? 'refused' : 'timeout')
    })
  })
}

describe('pods are real HTTP servers that say who they are', () => {
  it('each pod answers on its own address and the shared port, naming itself in x-pod and the body', async () => {
    const svc = await lab.addService({ name: 'echo', kind: 'headless', replicas: 3 })
    const ips = new Set(svc.pods.map((p) => p.ip))
    expect(ips.size).toBe(3)
    for (const pod of svc.pods) {
      expect(pod.ip).toMatch(/^127\.0\.10\.\d+$/)
      expect(pod.port).toBe(8080)
      expect(pod.running).toBe(true)
      expect(pod.ready).toBe(true)
      const reply = await send(pod.ip, pod.port, { method: 'POST', path: '/orders?x=1', body: 'hello' })
      expect(reply.status).toBe(200)
      expect(reply.pod).toBe(pod.name)
      expect(reply.body).toMatchObject({
        pod: pod.name,
        method: 'POST',
        url: '/orders?x=1',
        host: `${pod.ip}:${pod.port}`,
        bodyBytes: 5,
      })
    }
  })

  it('counts requests per pod by method; /healthz answers 200 and is counted apart', async () => {
    const pod = lab.service('echo').pods[0]!
    pod.resetCounters()
    await send(pod.ip, pod.port)
    await send(pod.ip, pod.port)
    await send(pod.ip, pod.port, { method: 'POST', body: '{}' })
    const health = await send(pod.ip, pod.port, { path: '/healthz' })
    expect(health.status).toBe(200)
    expect(pod.requests).toEqual({ total: 3, byMethod: { GET: 2, POST: 1 } })
    expect(pod.healthChecks).toBe(1)
    pod.resetCounters()
    expect(pod.requests).toEqual({ total: 0, byMethod: {} })
    expect(pod.healthChecks).toBe(0)
  })

  it('records how many times each x-request-id arrived, on a hung pod too (what proves a POST was sent once)', async () => {
    const [pod, other] = lab.service('echo').pods as [LabPod, LabPod]
    pod.resetCounters()
    other.resetCounters()
    await send(pod.ip, pod.port, { method: 'POST', body: '{}', headers: { 'x-request-id': 'a' } })
    await send(pod.ip, pod.port, { method: 'POST', body: '{}', headers: { 'x-request-id': 'b' } })
    await send(pod.ip, pod.port, { method: 'POST', body: '{}', headers: { 'x-request-id': 'b' } })
    await send(pod.ip, pod.port)
    other.fault({ kind: 'hang' })
    const hung = await errorCode(
      send(other.ip, other.port, {
        method: 'POST',
        body: '{}',
        headers: { 'x-request-id': 'a' },
        timeout: 200,
      }),
    )
    other.fault({ kind: 'none' })
    expect(hung).toBe('ETIMEDOUT')
    expect([...pod.requestIds]).toEqual([
      ['a', 1],
      ['b', 2],
    ])
    expect([...other.requestIds]).toEqual([['a', 1]])
    pod.resetCounters()
    expect(pod.requestIds.size).toBe(0)
  })
})

describe('a ClusterIP VIP balances connections, not requests', () => {
  it('new connections go round-robin over ready pods; a keep-alive connection stays on one pod', async () => {
    const svc = await lab.addService({ name: 'vip', kind: 'clusterIP', replicas: 3 })
    const vip = svc.clusterIP!
    const seen: string[] = []
    for (let i = 0; i < 6; i++) seen.push((await send(vip, svc.port)).pod!)
    expect(new Set(seen)).toEqual(new Set(svc.pods.map((p) => p.name)))
    expect(seen.slice(0, 3)).toEqual(seen.slice(3))

    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    try {
      const sticky = new Set<string>()
      for (let i = 0; i < 6; i++) sticky.add((await send(vip, svc.port, { agent })).pod!)
      expect(sticky.size).toBe(1)
    } finally {
      agent.destroy()
    }

    // An unready pod gets no new connections.
    const out = svc.pods[0]!
    await out.setReady(false)
    const after = new Set<string>()
    for (let i = 0; i < 4; i++) after.add((await send(vip, svc.port)).pod!)
    expect(after.has(out.name)).toBe(false)
    expect(after.size).toBe(2)
    await out.setReady(true)
  })

  it("the VIP listens on the service port and forwards to the pods' container port", async () => {
    const svc = await lab.addService({
      name: 'front',
      kind: 'clusterIP',
      replicas: 1,
      ports: [{ name: 'web', port: 80 }],
    })
    expect(svc.port).toBe(80)
    expect((await send(svc.clusterIP!, 80)).pod).toBe(svc.pods[0]!.name)
    expect(svc.pods[0]!.port).toBe(8080)
    const srv = await dns.resolveSrv('_web._tcp.front.default.svc.cluster.local')
    expect(srv.map((s) => `${s.name}:${s.port}`)).toEqual(['front.default.svc.cluster.local:80'])
  })
})

describe('faults do what they say', () => {
  it('slow: adds latency, measured against a baseline of the same pod', async () => {
    const svc = await lab.addService({ name: 'slowpoke', kind: 'headless', replicas: 1 })
    const pod = svc.pods[0]!
    const baseline = Math.min(
      ...(await Promise.all([0, 1, 2].map(() => send(pod.ip, pod.port)))).map((r) => r.ms),
    )
    pod.fault({ kind: 'slow', latencyMs: 300 })
    const slow = await send(pod.ip, pod.port)
    expect(slow.status).toBe(200)
    // The timer never fires early (allow 5 ms of clock granularity); no upper bound: a busy machine may add any delay.
    expect(slow.ms).toBeGreaterThanOrEqual(295)
    expect(slow.ms - baseline).toBeGreaterThan(150)
    pod.fault({ kind: 'none' })
    expect((await send(pod.ip, pod.port)).status).toBe(200)
  })

  it('errors: the given share of responses are 5xx (default 503)', async () => {
    const pod = lab.service('slowpoke').pods[0]!
    pod.fault({ kind: 'errors', ratio: 0.5 })
    const statuses: number[] = []
    for (let i = 0; i < 10; i++) statuses.push((await send(pod.ip, pod.port)).status)
    expect(statuses.filter((s) => s === 503)).toHaveLength(5)
    expect(statuses.filter((s) => s === 200)).toHaveLength(5)
    pod.fault({ kind: 'errors', ratio: 1, status: 500 })
    expect((await send(pod.ip, pod.port)).status).toBe(500)
    expect((await send(pod.ip, pod.port, { path: '/healthz' })).status).toBe(500)
    pod.fault({ kind: 'none' })
    expect((await send(pod.ip, pod.port)).status).toBe(200)
  })

  it('hang: accepts and reads the request, never answers (the client times out)', async () => {
    const pod = lab.service('slowpoke').pods[0]!
    pod.resetCounters()
    pod.fault({ kind: 'hang' })
    expect(await tcpConnect(pod.ip, pod.port, 2000)).toBe('connected')
    expect(await errorCode(send(pod.ip, pod.port, { timeout: 300 }))).toBe('ETIMEDOUT')
    expect(pod.requests.total).toBe(1)
    pod.fault({ kind: 'none' })
    expect((await send(pod.ip, pod.port)).status).toBe(200)
  })

  it('kill: connects are refused, DNS still lists the pod; restart brings it back on the same IP', async () => {
    const svc = await lab.addService({ name: 'crashy', kind: 'headless', replicas: 2 })
    const pod = svc.pod('crashy-0')
    const agent = new Agent({ keepAlive: true })
    try {
      await send(pod.ip, pod.port, { agent })
      await pod.kill()
      expect(pod.running).toBe(false)
      expect(await tcpConnect(pod.ip, pod.port, 2000)).toBe('refused')
      // The kept-alive connection was destroyed too: the next request on the agent fails or reconnects and is refused.
      expect(await errorCode(send(pod.ip, pod.port, { agent }))).toMatch(/ECONNREFUSED|ECONNRESET|EPIPE/)
    } finally {
      agent.destroy()
    }
    expect((await dns.resolve4('crashy.default.svc.cluster.local')).sort()).toEqual(
      svc.pods.map((p) => p.ip).sort(),
    )
    const ip = pod.ip
    await pod.restart()
    expect(pod.ip).toBe(ip)
    expect(pod.running).toBe(true)
    expect((await send(pod.ip, pod.port)).pod).toBe(pod.name)
  })

  it('restart with a new IP: the new address answers, the old one is refused, DNS follows', async () => {
    const svc = lab.service('crashy')
    const pod = svc.pod('crashy-1')
    const old = pod.ip
    await pod.restart({ newIp: true })
    expect(pod.ip).not.toBe(old)
    expect((await send(pod.ip, pod.port)).pod).toBe(pod.name)
    expect(await tcpConnect(old, pod.port, 2000)).toBe('refused')
    expect(await dns.resolve4('crashy-1.crashy.default.svc.cluster.local')).toEqual([pod.ip])
  })

  it('setReady(false): the pod leaves DNS but keeps serving', async () => {
    const svc = lab.service('crashy')
    const pod = svc.pod('crashy-1')
    await pod.setReady(false)
    expect(pod.ready).toBe(false)
    expect(await dns.resolve4('crashy.default.svc.cluster.local')).toEqual([svc.pod('crashy-0').ip])
    expect((await send(pod.ip, pod.port)).status).toBe(200)
    await pod.setReady(true)
    expect((await dns.resolve4('crashy.default.svc.cluster.local')).sort()).toEqual(
      svc.pods.map((p) => p.ip).sort(),
    )
  })

  it('blackhole: packets are silently dropped (connects time out), and come back when lifted', async (ctx) => {
    const svc = await lab.addService({ name: 'dark', kind: 'headless', replicas: 2 })
    const pod = svc.pod('dark-0')
    if (!lab.blackholeSupport.supported) {
      await expect(pod.blackhole()).rejects.toBeInstanceOf(LabUnsupportedError)
      ctx.skip(lab.blackholeSupport.reason)
    }
    await pod.blackhole()
    expect(await tcpConnect(pod.ip, pod.port, 500)).toBe('timeout')
    // Other pods are untouched.
    const other = svc.pod('dark-1')
    expect((await send(other.ip, other.port)).pod).toBe(other.name)
    await pod.blackhole(false)
    expect((await send(pod.ip, pod.port)).pod).toBe(pod.name)
  })
})

describe('IPv6 pods', () => {
  it('live on ::1 with a port each: AAAA ::1, SRV gives each pod its port', async () => {
    const svc = await lab.addService({ name: 'six', kind: 'headless', replicas: 2, ipv6: true })
    const ports = svc.pods.map((p) => p.port)
    expect(new Set(ports).size).toBe(2)
    for (const pod of svc.pods) {
      expect(pod.ip).toBe('::1')
      expect((await send('::1', pod.port)).pod).toBe(pod.name)
    }
    expect(await dns.resolve6('six.default.svc.cluster.local')).toEqual(['::1'])
    expect(await dns.resolve6('six-0.six.default.svc.cluster.local')).toEqual(['::1'])
    const srv = await dns.resolveSrv('_http._tcp.six.default.svc.cluster.local')
    expect(srv.map((s) => `${s.name}:${s.port}`).sort()).toEqual(
      svc.pods.map((p) => `${p.hostname}:${p.port}`).sort(),
    )
  })
})
