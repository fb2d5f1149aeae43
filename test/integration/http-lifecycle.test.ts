import diagnostics from 'node:diagnostics_channel'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Lab, startLab } from '../../lab/index.js'
import { ClosedError, HeadlessLbError } from '../../src/errors.js'
import { createClient } from '../../src/http/create-client.js'
import { until } from '../support/until.js'
import { getLoad, labClient } from './http-support.js'

let lab: Lab

beforeAll(async () => {
  lab = await startLab()
})
afterAll(async () => {
  await lab?.close()
})

/** Active handles and requests of this process, by kind (TCPSocketWrap, Timeout, UDPWrap...). */
function resources(): Map<string, number> {
  const counts = new Map<string, number>()
  for (const kind of process.getActiveResourcesInfo()) counts.set(kind, (counts.get(kind) ?? 0) + 1)
  return counts
}

describe('closing the client', () => {
  it('leaves no socket, timer or DNS handle behind after close()', async () => {
    const svc = await lab.addService({ name: 'tidy', kind: 'headless', replicas: 3 })
    const before = resources()
    // A keep-alive longer than the wait below: idle sockets left open would still be open at its end.
    const client = labClient(lab, svc, {
      keepAliveTimeout: 60_000,
      healthCheck: { http: { path: '/healthz' }, interval: 200 },
    })
    // Every connection undici opens (it has no channel for closing: look at the sockets).
    const sockets: Array<{ destroyed: boolean }> = []
    const opened = (message: unknown) => sockets.push((message as { socket: { destroyed: boolean } }).socket)
    diagnostics.subscribe('undici:client:connected', opened)
    const load = getLoad(client, 6)
    await until('traffic on every pod', () => svc.pods.every((p) => p.requests.total > 20))
    await client.close()
    diagnostics.unsubscribe('undici:client:connected', opened)
    // close() resolves once every connection is closed: none is left to its keep-alive timeout.
    expect(sockets.length).toBeGreaterThanOrEqual(3)
    expect(sockets.filter((s) => !s.destroyed)).toHaveLength(0)
    const { failures } = await load.stop()
    // Requests in flight at close() finish; later ones are refused with ClosedError.
    expect(failures).toEqual([])
    // Within 3 s: less than the pods' own keep-alive timeout (Node's 5 s), so sockets the client
    // failed to close would not be closed by the pods in time either.
    await until(
      'every handle the client opened to go',
      () => {
        const after = resources()
        return [...new Set([...before.keys(), ...after.keys()])].every(
          (k) => (after.get(k) ?? 0) <= (before.get(k) ?? 0),
        )
      },
      3_000,
    )
    await client.close() // idempotent
    await expect(client.request('/')).rejects.toBeInstanceOf(ClosedError)
  })

  it('a service with no ready pod fails the request with a typed error naming the service', async () => {
    const client = createClient({
      origin: 'http://nothing.default.svc.cluster.local:8080',
      dns: { servers: [lab.dnsServer], search: [], ndots: 1 },
      readyTimeout: 2_000,
    })
    const error = await client.request('/').catch((e: unknown) => e)
    await client.close()
    expect(error).toBeInstanceOf(HeadlessLbError)
    expect(error).toMatchObject({ service: 'nothing.default.svc.cluster.local' })
    expect(String((error as Error).message)).toMatch(/nothing\.default\.svc\.cluster\.local/)
  })
})
