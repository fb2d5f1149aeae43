import { EventEmitter } from 'node:events'
import type { EndpointSource } from '../../../src/discovery/endpoint-source.js'
import type { Endpoint, EndpointChange } from '../../../src/endpoint.js'

/** An endpoint source the test drives by hand: `set([...])` emits a change like discovery would. */
export class FakeSource extends EventEmitter implements EndpointSource {
  endpoints: ReadonlyArray<Endpoint> = []
  stale = false
  refreshes = 0
  closed = false
  private resolveReady: (() => void) | undefined
  private readonly readyPromise = new Promise<void>((resolve) => {
    this.resolveReady = resolve
  })

  constructor(endpoints: ReadonlyArray<Endpoint> = []) {
    super()
    this.endpoints = endpoints
    if (endpoints.length > 0) this.resolveReady!()
  }

  ready(): Promise<void> {
    return this.readyPromise
  }

  refresh(): void {
    this.refreshes++
  }

  set(endpoints: ReadonlyArray<Endpoint>): EndpointChange {
    const before = new Map(this.endpoints.map((e) => [e.id, e]))
    const after = new Map(endpoints.map((e) => [e.id, e]))
    const change: EndpointChange = {
      added: endpoints.filter((e) => !before.has(e.id)),
      removed: this.endpoints.filter((e) => !after.has(e.id)),
      updated: endpoints
        .filter((e) => before.has(e.id) && before.get(e.id) !== e)
        .map((e) => ({ previous: before.get(e.id)!, current: e })),
      endpoints,
    }
    this.endpoints = endpoints
    this.resolveReady!()
    this.emit('change', change)
    return change
  }

  async close(): Promise<void> {
    this.closed = true
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

export { seededRandom } from '../../support/seeded-random.js'

/** StatefulSet-style endpoints `<name>-0..n-1` on 127.0.10.x. */
export function statefulSet(
  n: number,
  name = 'web',
  options: { weights?: number[]; offset?: number } = {},
): Endpoint[] {
  return Array.from({ length: n }, (_, k) => {
    const i = k + (options.offset ?? 0)
    return endpoint(`${name}-${i}`, `127.0.10.${(i % 250) + 1}`, i, options.weights?.[k])
  })
}

export function endpoint(name: string, address: string, ordinal?: number, weight?: number): Endpoint {
  return {
    id: `${name}.web.default.svc.cluster.local`,
    address,
    family: 4,
    port: 8080,
    hostname: `${name}.web.default.svc.cluster.local`,
    name,
    ...(ordinal === undefined ? {} : { ordinal }),
    ...(weight === undefined ? {} : { weight }),
  }
}
