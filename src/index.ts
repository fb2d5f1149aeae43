// pool and balancing
export type {
  BalancerName,
  BalancingOptions,
  EwmaOptions,
  PrimaryOptions,
  PrimaryProbe,
} from './balancing/balancing-options.js'
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
export type { EndpointHealth, EndpointRole } from './health/endpoint-state.js'
export type {
  HealthCheckFunction,
  HealthCheckOptions,
  HttpHealthCheckOptions,
  OutlierDetectionOptions,
  SlowStartOptions,
} from './health/health-options.js'
export type { FailureKind, Lease, LeaseOutcome, PickOptions, ReadPreference, Role } from './lease.js'
export type {
  EjectEvent,
  EndpointStats,
  HealthEvent,
  PanicEvent,
  PoolOptions,
  PoolStats,
  PrimaryEvent,
} from './pool.js'
export { createPool, Pool } from './pool.js'
