import * as grpc from '@grpc/grpc-js'
import { type EchoClient as Client, EchoClient, echo } from '../../lab/grpc-pod-server.js'
import type { Lab, LabService } from '../../lab/index.js'
import type { HeadlessResolverUpdate } from '../../src/grpc/register-headless-resolver.js'
import { registerHeadlessResolver } from '../../src/grpc/register-headless-resolver.js'
import { nextEvent } from '../support/next-event.js'

/** A resolver registration for the lab: its DNS server, no search list, fast refresh, its own scheme. */
export function labResolver(lab: Lab, scheme: string, options: { minRefresh?: number } = {}) {
  return registerHeadlessResolver(grpc, {
    scheme,
    dns: { servers: [lab.dnsServer], search: [], ndots: 1 },
    minRefresh: options.minRefresh ?? 200,
  })
}

/** An Echo client for `target`, without TLS. */
export function echoClient(target: string, options: grpc.ChannelOptions = {}): Client {
  return new EchoClient(target, grpc.credentials.createInsecure(), options)
}

/** Calls per pod name. */
export type Tally = Map<string, number>

export interface CallLoop {
  readonly tally: Tally
  readonly failures: Error[]
  /** Resolves when every call in flight now has ended (calls started later are not waited for). */
  drained(): Promise<void>
  /** Stops issuing calls; resolves when the ones in flight ended. */
  stop(): Promise<void>
}

/** `concurrency` callers making unary calls back to back until stop(), tallying who answered. */
export function callLoop(client: Client, concurrency = 4): CallLoop {
  const tally: Tally = new Map()
  const failures: Error[] = []
  let running = true
  const current: Array<Promise<unknown>> = []
  const worker = async (i: number): Promise<void> => {
    while (running) {
      const call = echo(client, { deadline: Date.now() + 5_000 })
      current[i] = call.catch(() => {})
      try {
        const reply = await call
        tally.set(reply.pod, (tally.get(reply.pod) ?? 0) + 1)
      } catch (error) {
        failures.push(error as Error)
      }
      // Let timers and DNS answers in between calls.
      await new Promise((resolve) => setImmediate(resolve))
    }
  }
  const workers = Array.from({ length: concurrency }, (_, i) => worker(i))
  return {
    tally,
    failures,
    drained: async () => {
      await Promise.all([...current])
    },
    stop: async () => {
      running = false
      await Promise.all(workers)
    },
  }
}

/** `n` calls one after another; their tally. */
export async function callSequence(client: Client, n: number): Promise<Tally> {
  const tally: Tally = new Map()
  for (let i = 0; i < n; i++) {
    const reply = await echo(client, { deadline: Date.now() + 5_000 })
    tally.set(reply.pod, (tally.get(reply.pod) ?? 0) + 1)
  }
  return tally
}

/** The next `update` for `service` whose endpoint list satisfies `accept`. */
export function nextUpdate(
  registration: ReturnType<typeof labResolver>,
  service: LabService,
  accept: (update: HeadlessResolverUpdate) => boolean,
  ms = 10_000,
): Promise<HeadlessResolverUpdate> {
  return nextEvent<HeadlessResolverUpdate>(
    registration,
    'update',
    (u) => u.service === service.fqdn && accept(u),
    ms,
  )
}

/** Waits until every pod of `service` holds an open connection from the client (round_robin connects to all). */
export async function connectedToAll(client: Client, service: LabService): Promise<void> {
  const deadline = Date.now() + 10_000
  while (service.pods.some((p) => p.ready && p.connections.open === 0)) {
    if (Date.now() > deadline) throw new Error(`not connected to every pod of ${service.fqdn} within 10 s`)
    await echo(client, { deadline: Date.now() + 5_000 }).catch(() => {})
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
