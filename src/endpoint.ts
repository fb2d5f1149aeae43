import { formatHostPort } from './internal/format-host-port.js'

/**
 * One pod (or address) behind the service, as discovery sees it. Endpoint objects are
 * immutable snapshots: when a pod keeps its stable name but gets a new IP, discovery emits
 * a new object with the same `id` (an `updated` change), so state kept by `id` (health,
 * load, statistics) survives a reschedule.
 */
export interface Endpoint {
  /**
   * Stable identity: the pod's stable DNS name when there is one (`web-1.web.default.svc.cluster.local`),
   * otherwise `address:port`.
   */
  readonly id: string
  /** The IP address to connect to. */
  readonly address: string
  readonly family: 4 | 6
  readonly port: number
  /** The pod's stable DNS name (`<pod>.<svc>.<ns>.svc.<zone>`), from SRV targets or the `pods` option. */
  readonly hostname?: string
  /** The pod name: the first label of `hostname` (`web-1`). */
  readonly name?: string
  /** The StatefulSet ordinal parsed from `name` (`1` for `web-1`). */
  readonly ordinal?: number
  /** SRV priority (lower is preferred). */
  readonly priority?: number
  /** SRV weight (relative share among endpoints of one priority). */
  readonly weight?: number
}

/** A pod that kept its identity but changed (a rescheduled pod with a new IP, new SRV weight...). */
export interface EndpointUpdate {
  readonly previous: Endpoint
  readonly current: Endpoint
}

/** Payload of the `change` event: what changed, and the whole new set. */
export interface EndpointChange {
  readonly added: ReadonlyArray<Endpoint>
  readonly removed: ReadonlyArray<Endpoint>
  readonly updated: ReadonlyArray<EndpointUpdate>
  readonly endpoints: ReadonlyArray<Endpoint>
}

/** `web-1` -> 1; `web` or `web-x` -> undefined. StatefulSet pods are named `<sts>-<ordinal>`. */
export function ordinalOf(podName: string): number | undefined {
  const match = /-(\d+)$/.exec(podName)
  if (!match) return undefined
  const ordinal = Number(match[1])
  return Number.isSafeInteger(ordinal) ? ordinal : undefined
}

/**
 * Whether two snapshots of one endpoint (same `id`) reach the same server. A rescheduled pod keeps
 * its id but is a new server at a new address; an SRV weight change is not.
 */
export function sameAddress(a: Endpoint, b: Endpoint): boolean {
  return a.address === b.address && a.port === b.port && a.family === b.family
}

/** Describes an endpoint for errors and logs: `web-1 (127.0.10.2:8080)` or `127.0.10.2:8080`. */
export function describeEndpoint(endpoint: Endpoint): string {
  const address = formatHostPort(endpoint.address, endpoint.port)
  return endpoint.name ? `${endpoint.name} (${address})` : address
}

/** The id of an endpoint known only by its address: `127.0.10.2:8080` or `[fd00::2]:8080`. */
export function addressId(address: string, port: number): string {
  return formatHostPort(address, port)
}
