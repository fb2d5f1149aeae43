// First: a clear error on a Node.js older than the engines floor, before undici loads.
import './node-version-guard.js'

// pool and balancing
export type {
  BalancerName,
  BalancingOptions,
  EwmaOptions,
  PrimaryOptions,
  PrimaryProbe,
} from './balancing/balancing-options.js'
export type { EndpointSource, ResolutionEvent } from './discovery/endpoint-source.js'
// discovery
export {
  createEndpointSource,
  DISCOVERY_DEFAULTS,
  DISCOVERY_OPTION_KEYS,
  type DiscoveryInternals,
  type DiscoveryOptions,
  type NormalizedDiscoveryOptions,
  pickDiscoveryOptions,
  type ReadyOptions,
  type ResolverFactory,
  type ResolverLike,
  validateDiscoveryOptions,
} from './discovery/index.js'
export type { Endpoint, EndpointChange, EndpointUpdate } from './endpoint.js'
export type { AttemptRecord, HeadlessLbErrorCode } from './errors.js'
export {
  ClosedError,
  DeadlineExceededError,
  DestroyedError,
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
// http
export type {
  AttemptEndEvent,
  AttemptEvent,
  HedgeEvent,
  HttpStats,
  RetryEvent,
} from './http/balanced-dispatcher.js'
export { BalancedDispatcher } from './http/balanced-dispatcher.js'
export type {
  HedgeOptions,
  HttpOptions,
  RetryBudgetOptions,
  RetryOptions,
  RouteOptions,
  TimeoutOptions,
} from './http/client-options.js'
export type { ClientOptions } from './http/create-client.js'
export { createClient } from './http/create-client.js'
export type { AgentServiceOptions, HeadlessAgentOptions } from './http/headless-agent.js'
export { HeadlessAgent } from './http/headless-agent.js'
export type { ClientRequestInit, ClientRequestOptions } from './http/headless-client.js'
export { HeadlessClient } from './http/headless-client.js'
export type {
  HeadlessHttpAgentOptions,
  HeadlessHttpsAgentOptions,
  NodeAgentHttpOptions,
  NodeAgentServiceOptions,
} from './http/headless-http-agent.js'
export { HeadlessHttpAgent, HeadlessHttpsAgent } from './http/headless-http-agent.js'
export type { LeasePool } from './http/lease-pool.js'
export type { HttpAgentService, HttpAgentServiceStats } from './http/node-agent-router.js'
export type { FailureKind, Lease, LeaseOutcome, PickOptions, ReadPreference, Role } from './lease.js'
export type {
  CheckEvent,
  EjectEvent,
  EndpointStats,
  HealthEvent,
  PanicEvent,
  PoolEvents,
  PoolInternals,
  PoolOptions,
  PoolStats,
  PrimaryEvent,
  StallEvent,
} from './pool.js'
export { createPool, Pool } from './pool.js'
