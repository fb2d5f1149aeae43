// First: a clear error on a Node.js older than the engines floor, before undici loads.
import './node-version-guard.js'
// Then, while Node's own functions are still unoptimized (see the file).
import './internal/settle-async-context.js'

// pool and balancing
export type {
  BalancerName,
  BalancingOptions,
  EwmaOptions,
  PrimaryOptions,
  PrimaryProbe,
} from './balancing/balancing-options.js'
// discovery (its test seams are in headless-lb/testing)
export { createEndpointSource } from './discovery/create-endpoint-source.js'
export type { DiscoveryOptions } from './discovery/discovery-options.js'
export type {
  EndpointSource,
  EndpointSourceEvents,
  ReadyOptions,
  ResolutionEvent,
} from './discovery/endpoint-source.js'
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
  StallDetectionOptions,
} from './health/health-options.js'
// http
export type {
  AttemptEndEvent,
  AttemptEvent,
  BalancedDispatcherEvents,
  HedgeEvent,
  HttpStats,
  RetryEvent,
} from './http/balanced-dispatcher.js'
export { BalancedDispatcher } from './http/balanced-dispatcher.js'
export type {
  ClientOwnOptions,
  HedgeOptions,
  HttpOptions,
  RetryBudgetOptions,
  RetryOptions,
  RouteOptions,
  TimeoutOptions,
} from './http/client-options.js'
export type { ClientOptions, ClientWithPoolOptions } from './http/create-client.js'
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
export type { ClientPoolOptions } from './http/pool-factory.js'
export { InvalidOptionError, OptionRangeError } from './invalid-option-error.js'
export type { FailureKind, Lease, LeaseOutcome, PickOptions, ReadPreference, Role } from './lease.js'
// metrics: the structural OpenTelemetry types the meterProvider option takes (docs/observability.md)
export type {
  BatchCallback,
  BatchResultLike,
  CounterLike,
  HistogramLike,
  InstrumentOptions,
  MeterLike,
  MeterProviderLike,
  MetricAttributes,
  ObservableLike,
} from './metrics/meter-provider.js'
export type {
  CheckEvent,
  EjectEvent,
  EndpointStats,
  HealthChangeReason,
  HealthEvent,
  PanicEvent,
  PoolEvents,
  PoolOptions,
  PoolStats,
  PrimaryEvent,
  StallEvent,
} from './pool.js'
export { createPool, Pool } from './pool.js'
