import { once } from 'node:events'
import { createServer, type Server } from 'node:https'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Lab, startLab } from '../../lab/index.js'
import { createClient } from '../../src/http/create-client.js'
import { selfSignedCertificate } from '../support/self-signed-certificate.js'

const SERVICE = 'secure.default.svc.cluster.local'
let lab: Lab
let tls: { cert: Buffer; key: Buffer }
const servers: Server[] = []
const seen: Array<{ pod: string; sni: string | undefined; host: string | undefined }> = []

beforeAll(async () => {
  lab = await startLab()
  // One certificate for the service and its pods, as a cluster's CA would issue.
  tls = selfSignedCertificate([SERVICE, `*.${SERVICE}`])
})
afterAll(async () => {
  for (const s of servers) {
    s.closeAllConnections()
    await new Promise<void>((r) => s.close(() => r()))
  }
  await lab?.close()
})

describe('HTTPS to pods by the service name', () => {
  it('connects to each pod IP, sends SNI and Host as the service name, and verifies the certificate against it', async () => {
    const svc = await lab.addService({ name: 'secure', kind: 'headless', replicas: 2, servePods: false })
    expect(svc.fqdn).toBe(SERVICE)
    for (const pod of svc.pods) {
      const server = createServer(tls, (req, res) => {
        seen.push({
          pod: pod.name,
          sni: (req.socket as { servername?: string }).servername,
          host: req.headers.host,
        })
        res.end(pod.name)
      })
      server.listen(pod.port, pod.ip)
      await once(server, 'listening')
      servers.push(server)
    }
    const origin = `https://${svc.fqdn}:${svc.port}`
    const dns = { servers: [lab.dnsServer], search: [], ndots: 1 }
    // round-robin: four sequential requests reach each pod twice.
    const client = createClient({
      origin,
      portName: 'http',
      balancer: 'round-robin',
      dns,
      tls: { ca: tls.cert },
    })
    const bodies: string[] = []
    for (let i = 0; i < 4; i++) bodies.push(await (await client.request('/')).body.text())
    await client.close()
    expect(bodies.sort()).toEqual(['secure-0', 'secure-0', 'secure-1', 'secure-1'])
    expect(new Set(seen.map((s) => `${s.sni} ${s.host}`))).toEqual(
      new Set([`${svc.fqdn} ${svc.fqdn}:${svc.port}`]),
    )

    // The name is really checked: a certificate for another name is refused.
    const other = selfSignedCertificate(['other.default.svc.cluster.local'])
    const strict = createClient({
      origin,
      portName: 'http',
      dns,
      tls: { ca: other.cert },
      retry: { retries: 0 },
    })
    const error = await strict.request('/').catch((e: unknown) => e)
    await strict.close()
    expect(error).toMatchObject({ code: 'HLB_ERR_REQUEST_FAILED' })
  })

  it("a pod's stable name as the origin: Host and SNI are the pod's name", async () => {
    const svc = lab.service('secure')
    const pod = svc.pod('secure-1')
    seen.length = 0
    const client = createClient({
      origin: `https://${pod.hostname}:${svc.port}`,
      dns: { servers: [lab.dnsServer], search: [], ndots: 1 },
      tls: { ca: tls.cert },
    })
    const res = await client.request('/')
    const body = await res.body.text()
    await client.close()
    expect(body).toBe('secure-1')
    expect(seen).toEqual([{ pod: 'secure-1', sni: pod.hostname, host: `${pod.hostname}:${svc.port}` }])
  })
})
