// headless-lb/testing: the seams a test of code built on headless-lb needs, apart from the
// product in the root entry (as grpc-js keeps its plug-in API in `experimental`). A time source,
// a DNS resolver and a resolv.conf to inject, the internals argument of the factories that take
// them, and the discovery options' validation for composite options of one's own.
export type { DiscoveryInternals } from '../discovery/create-endpoint-source.js'
export {
  DISCOVERY_DEFAULTS,
  DISCOVERY_OPTION_KEYS,
  type NormalizedDiscoveryOptions,
  pickDiscoveryOptions,
  type StaticAddress,
  validateDiscoveryOptions,
} from '../discovery/discovery-options.js'
export type { ResolverFactory, ResolverLike } from '../discovery/dns-client.js'
export { parseResolvConf, type ResolvConf } from '../discovery/resolv-conf.js'
export type { AgentInternals } from '../http/agent-services.js'
export type { Clock } from '../internal/clock.js'
export type { PoolInternals } from '../pool.js'
