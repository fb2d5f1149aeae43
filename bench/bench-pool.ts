// A minimal round-robin LeasePool over static pods for the benchmarks, until src/pool.ts
// (createPool with `addresses`) is merged; then the benchmarks use the real pool.
import { EventEmitter } from 'node:events'
import type { Endpoint } from '../src/endpoint.js'
import type { LeasePool } from '../src/http/lease-pool.js'
import type { Lease, LeaseOutcome, PickOptions } from '../src/lease.js'
import type { PodInfo } from './bench-support.js'

export function roundRobinPool(service: string, pods: ReadonlyArray<PodInfo>): LeasePool {
  const endpoints: Endpoint[] = pods.map((p) => ({
    id: p.name,
    address: p.ip,
    family: 4,
    port: p.port,
    name: p.name,
  }))
  let next = 0
  const emitter = new EventEmitter()
  return {
    service,
    endpoints,
    ready: () => Promise.resolve(),
    acquire(options?: PickOptions): Lease {
      const exclude = options?.exclude
      for (let i = 0; i < endpoints.length; i++) {
        const endpoint = endpoints[next++ % endpoints.length]!
        if (exclude === undefined || !exclude.includes(endpoint.id)) {
          return { endpoint, release(_outcome: LeaseOutcome) {} }
        }
      }
      throw new Error('no endpoint')
    },
    refresh() {},
    on: (event, listener) => emitter.on(event, listener),
    off: (event, listener) => emitter.off(event, listener),
    close: () => Promise.resolve(),
  }
}
