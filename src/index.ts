export type { EndpointSource } from './discovery/endpoint-source.js'
// discovery
export {
  createEndpointSource,
  DISCOVERY_DEFAULTS,
  DISCOVERY_OPTION_KEYS,
  type DiscoveryInternals,
  type DiscoveryOptions,
  type NormalizedDiscoveryOptions,
  type ReadyOptions,
  type ResolverFactory,
  type ResolverLike,
  validateDiscoveryOptions,
} from './discovery/index.js'
export type { Endpoint, EndpointChange, EndpointUpdate } from './endpoint.js'
export type { AttemptRecord } from './errors.js'
export {
  ClosedError,
  DeadlineExceededError,
  HeadlessLbError,
  NoEndpointsError,
  NoPrimaryError,
  RequestFailedError,
  ResolutionError,
  RetryBudgetExhaustedError,
} from './errors.js'
export type { FailureKind, Lease, LeaseOutcome, PickOptions, ReadPreference, Role } from './lease.js'
