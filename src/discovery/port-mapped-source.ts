import { EventEmitter } from 'node:events'
import { addressId, type Endpoint, type EndpointChange } from '../endpoint.js'
import { ClosedError } from '../errors.js'
import type {
  EndpointSource,
  EndpointSourceEvents,
  ReadyOptions,
  ResolutionEvent,
} from './endpoint-source.js'

/**
 * One shared endpoint source seen on another port: the A/AAAA records of a service do not depend
 * on the port a URL names, so every port of one service can share one discovery (one DNS refresh)
 * while each gets its own pool. Endpoints known by `address:port` get the new port in their id;
 * named ones (SRV or pod names) keep theirs. Each endpoint keeps one object across changes, as
 * the source's own set does. close() detaches from the shared source without closing it.
 */
export class PortMappedSource extends EventEmitter<EndpointSourceEvents> implements EndpointSource {
  readonly #inner: EndpointSource
  readonly #port: number | undefined
  /** Mapped endpoint by the inner endpoint object it came from. */
  #mapped = new Map<Endpoint, Endpoint>()
  #endpoints: ReadonlyArray<Endpoint>
  #closed = false
  readonly #onChange = (change: EndpointChange): void => {
    const next = new Map<Endpoint, Endpoint>()
    const endpoints = change.endpoints.map((e) => this.#map(e, next))
    const removed = change.removed.map((e) => this.#mapped.get(e) ?? this.#map(e, new Map()))
    const mapped: EndpointChange = {
      added: change.added.map((e) => next.get(e) ?? this.#map(e, next)),
      removed,
      updated: change.updated.map(({ previous, current }) => ({
        previous: this.#mapped.get(previous) ?? this.#map(previous, new Map()),
        current: next.get(current) ?? this.#map(current, next),
      })),
      endpoints: Object.freeze(endpoints),
    }
    this.#mapped = next
    this.#endpoints = mapped.endpoints
    this.emit('change', mapped)
  }
  readonly #onError = (error: Error): void => {
    if (this.listenerCount('error') > 0) this.emit('error', error)
  }
  readonly #onResolution = (event: ResolutionEvent): void => {
    this.emit('resolution', event)
  }

  /** `port`: the endpoints' port here; undefined keeps the source's own ports. */
  constructor(inner: EndpointSource, port: number | undefined) {
    super()
    this.#inner = inner
    this.#port = port
    const next = new Map<Endpoint, Endpoint>()
    this.#endpoints = Object.freeze(inner.endpoints.map((e) => this.#map(e, next)))
    this.#mapped = next
    inner.on('change', this.#onChange)
    inner.on('error', this.#onError)
    inner.on('resolution', this.#onResolution)
  }

  get endpoints(): ReadonlyArray<Endpoint> {
    return this.#endpoints
  }

  get stale(): boolean {
    return this.#inner.stale
  }

  get answeredAt(): number | undefined {
    return this.#inner.answeredAt
  }

  ready(options?: ReadyOptions): Promise<void> {
    if (this.#closed) return Promise.reject(new ClosedError('Endpoint source'))
    return this.#inner.ready(options)
  }

  refresh(): void {
    if (this.#closed) throw new ClosedError('Endpoint source')
    this.#inner.refresh()
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#inner.off('change', this.#onChange)
    this.#inner.off('error', this.#onError)
    this.#inner.off('resolution', this.#onResolution)
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  /** The endpoint on this port: the same object as last time for the same inner endpoint. */
  #map(endpoint: Endpoint, into: Map<Endpoint, Endpoint>): Endpoint {
    const port = this.#port
    let mapped = this.#mapped.get(endpoint)
    if (mapped === undefined) {
      if (port === undefined || endpoint.port === port) mapped = endpoint
      else {
        const byAddress = endpoint.id === addressId(endpoint.address, endpoint.port)
        mapped = Object.freeze({
          ...endpoint,
          port,
          id: byAddress ? addressId(endpoint.address, port) : endpoint.id,
        })
      }
    }
    into.set(endpoint, mapped)
    return mapped
  }
}
