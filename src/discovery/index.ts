// The discovery area's public surface (re-exported from src/index.ts).
export type { Clock } from '../internal/clock.js'
export { createEndpointSource, type DiscoveryInternals } from './create-endpoint-source.js'
export {
  DISCOVERY_DEFAULTS,
  DISCOVERY_OPTION_KEYS,
  type DiscoveryOptions,
  type NormalizedDiscoveryOptions,
  pickDiscoveryOptions,
  type StaticAddress,
  validateDiscoveryOptions,
} from './discovery-options.js'
export type { ResolverFactory, ResolverLike } from './dns-client.js'
export type { EndpointSource, ReadyOptions } from './endpoint-source.js'
export { parseResolvConf, type ResolvConf } from './resolv-conf.js'
