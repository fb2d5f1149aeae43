import type { DiscoveryOptions } from './discovery-options.js'
import type { EndpointSource } from './endpoint-source.js'

/**
 * Builds the endpoint source the options describe: DNS (A/AAAA, SRV or pod names) or a static list.
 * (Stub from the skeleton commit: the discovery work implements it.)
 */
export function createEndpointSource(options: DiscoveryOptions): EndpointSource {
  throw new Error(`discovery is not implemented yet (service ${options.service})`)
}
