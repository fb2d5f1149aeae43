import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { echo } from '../../lab/grpc-pod-server.js'
import { type Lab, startLab } from '../../lab/index.js'
import { nextEvent } from '../support/next-event.js'
import { until } from '../support/until.js'
import {
  callLoop,
  callSequence,
  connectedToAll,
  echoClient,
  labResolver,
  nextUpdate,
} from './grpc-support.js'

// A short TTL keeps the scale-up test short; the claim (one TTL + 1 s) holds at any TTL.
const TTL = 2
const ROUND_ROBIN = { 'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }) }

let lab: Lab

beforeAll(async () => {
  lab = await startLab({ ttl: TTL })
})

afterAll(async () => {
  await lab?.close()
})

function shares(tally: Map<string, number>): number[] {
  return [...tally.values()]
}

describe('headless-lb/grpc with real grpc-js servers as pods', () => {
  it('balances calls over every pod with round_robin', async () => {
    const svc = await lab.addService({ name: 'rr', kind: 'headless', app: 'grpc', replicas: 3 })
    labResolver(lab, 'hlb-rr')
    const client = echoClient(`hlb-rr:///${svc.fqdn}:${svc.port}`, ROUND_ROBIN)
    try {
      await connectedToAll(client, svc)
      const tally = await callSequence(client, 300)
      expect([...tally.keys()].sort()).toEqual(['rr-0', 'rr-1', 'rr-2'])
      for (const n of shares(tally)) expect(Math.abs(n - 100)).toBeLessThanOrEqual(15)
      // One connection per pod, none broken.
      for (const pod of svc.pods) expect(pod.connections).toMatchObject({ opened: 1, closed: 0 })
    } finally {
      client.close()
      await svc.remove()
    }
  })

  it('balances with no service config at all (the resolver asks for round_robin, not pick_first)', async () => {
    const svc = await lab.addService({ name: 'noconfig', kind: 'headless', app: 'grpc', replicas: 3 })
    labResolver(lab, 'hlb-noconfig')
    const client = echoClient(`hlb-noconfig:///${svc.fqdn}:grpc`)
    try {
      await connectedToAll(client, svc)
      const tally = await callSequence(client, 300)
      expect(tally.size).toBe(3)
      for (const n of shares(tally)) expect(Math.abs(n - 100)).toBeLessThanOrEqual(15)
    } finally {
      client.close()
      await svc.remove()
    }
  })

  it('sends calls to a pod added to DNS within one TTL + 1 s, without breaking any connection', async () => {
    const svc = await lab.addService({ name: 'up', kind: 'headless', app: 'grpc', replicas: 3 })
    labResolver(lab, 'hlb-up')
    const client = echoClient(`hlb-up:///${svc.fqdn}:${svc.port}`, ROUND_ROBIN)
    try {
      await connectedToAll(client, svc)
      const loop = callLoop(client)
      await svc.scale(4)
      // DNS serves the new pod from here: it must get calls within one TTL + 1 s.
      const added = svc.pod('up-3')
      await until('the added pod receives calls', () => added.requests.total > 0, TTL * 1000 + 1000, 5)
      // Then its share: a quarter of the next calls, as each old pod.
      const before = new Map(svc.pods.map((p) => [p.name, p.requests.total]))
      const since = (name: string): number => svc.pod(name).requests.total - (before.get(name) ?? 0)
      const names = svc.pods.map((p) => p.name)
      await until(
        '400 calls after the scale-up',
        () => names.reduce((sum, n) => sum + since(n), 0) >= 400,
        20_000,
      )
      await loop.stop()
      expect(loop.failures).toEqual([])
      const total = names.reduce((sum, n) => sum + since(n), 0)
      for (const name of names) expect(since(name) / total, name).toBeGreaterThan(0.25 * 0.85)
      // Server side: the three old pods still hold the one connection each had before; none closed.
      for (const name of ['up-0', 'up-1', 'up-2']) {
        expect(svc.pod(name).connections, name).toEqual({ opened: 1, closed: 0, open: 1 })
      }
      expect(added.connections).toMatchObject({ closed: 0, open: 1 })
    } finally {
      client.close()
      await svc.remove()
    }
  })

  it('loses no call when a pod leaves DNS (SRV) and is then shut down', async () => {
    const svc = await lab.addService({ name: 'down', kind: 'headless', app: 'grpc', replicas: 3 })
    const registration = labResolver(lab, 'hlb-down')
    const client = echoClient(`hlb-down:///${svc.fqdn}:grpc`, ROUND_ROBIN)
    try {
      await connectedToAll(client, svc)
      const loop = callLoop(client)
      const leaving = svc.pod('down-2')
      const dropped = nextUpdate(registration, svc, (u) => u.endpoints.length === 2)
      await leaving.setReady(false)
      const update = await dropped
      expect(update.endpoints.map((e) => e.name).sort()).toEqual(['down-0', 'down-1'])
      // Calls picked before the update may still be on their way to it: let them end (as a pod's
      // graceful shutdown would), then crash the pod.
      await loop.drained()
      expect(leaving.inFlight).toBe(0)
      const callsBefore = leaving.requests.total
      await leaving.kill()
      const served = loop.tally.get('down-0') ?? 0
      await until('200 more calls', () => (loop.tally.get('down-0') ?? 0) >= served + 100, 20_000)
      await loop.stop()
      expect(loop.failures).toEqual([])
      expect(leaving.requests.total).toBe(callsBefore)
    } finally {
      client.close()
      await svc.remove()
    }
  })

  it('keeps the last set while DNS is stopped', async () => {
    const svc = await lab.addService({ name: 'outage', kind: 'headless', app: 'grpc', replicas: 3 })
    const registration = labResolver(lab, 'hlb-outage')
    const client = echoClient(`hlb-outage:///${svc.fqdn}:${svc.port}`, ROUND_ROBIN)
    try {
      await connectedToAll(client, svc)
      const failing = nextEvent(registration, 'error', () => true, 15_000)
      await lab.stopDns()
      try {
        await failing
        // Past a failed refresh: the pool serves its last answer, and grpc-js still has every pod.
        expect(registration.pools[0]?.stale).toBe(true)
        const tally = await callSequence(client, 90)
        expect(tally.size).toBe(3)
        for (const n of shares(tally)) expect(Math.abs(n - 30)).toBeLessThanOrEqual(5)
      } finally {
        await lab.startDns()
      }
    } finally {
      client.close()
      await svc.remove()
    }
  })
})

describe('the resolver lifecycle', () => {
  it('closes its pool when the client closes or goes idle, and resolves again when used', async () => {
    const svc = await lab.addService({ name: 'idle', kind: 'headless', app: 'grpc', replicas: 2 })
    const registration = labResolver(lab, 'hlb-idle')
    // grpc-js's shortest idle timeout (1 s): the channel then destroys its resolver.
    const client = echoClient(`hlb-idle:///${svc.fqdn}:${svc.port}`, { 'grpc.client_idle_timeout_ms': 1_000 })
    try {
      expect(registration.pools).toHaveLength(0) // nothing before the first call
      await echo(client)
      expect(registration.pools).toHaveLength(1)
      const pool = registration.pools[0]!
      await until('the idle channel destroyed its resolver', () => registration.pools.length === 0, 10_000)
      expect(() => pool.pick()).toThrow(/closed/)
      await echo(client)
      expect(registration.pools).toHaveLength(1)
    } finally {
      client.close()
    }
    await until('the closed client destroyed its resolver', () => registration.pools.length === 0)
    await svc.remove()
  })
})
