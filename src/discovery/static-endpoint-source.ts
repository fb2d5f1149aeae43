import { EventEmitter } from 'node:events'
import { addressId, type Endpoint } from '../endpoint.js'
import { ClosedError } from '../errors.js'
import type { NormalizedDiscoveryOptions, StaticAddress } from './discovery-options.js'
import { EndpointSet } from './endpoint-set.js'
import type { EndpointSource, EndpointSourceEvents, ReadyOptions } from './endpoint-source.js'

/** The `addresses` option: a fixed set, ready at once, no DNS, no timers. */
export class StaticEndpointSource extends EventEmitter<EndpointSourceEvents> implements EndpointSource {
  readonly #service: string
  readonly #endpoints: ReadonlyArray<Endpoint>
  #closed = false

  constructor(options: NormalizedDiscoveryOptions & { addresses: ReadonlyArray<StaticAddress> }) {
    super()
    this.#service = options.service
    const set = new EndpointSet()
    set.apply(
      options.addresses.map((a) => ({
        id: addressId(a.address, a.port),
        address: a.address,
        family: a.family,
        port: a.port,
      })),
    )
    this.#endpoints = set.endpoints
  }

  get endpoints(): ReadonlyArray<Endpoint> {
    return this.#endpoints
  }

  get stale(): boolean {
    return false
  }

  ready(_options: ReadyOptions = {}): Promise<void> {
    if (this.#closed) return Promise.reject(new ClosedError('Endpoint source', this.#service))
    return Promise.resolve()
  }

  refresh(): void {
    if (this.#closed) throw new ClosedError('Endpoint source', this.#service)
  }

  async close(): Promise<void> {
    this.#closed = true
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }
}
