// The pool's public module path. Pool and createPool live in src/pool/ with the parts they
// coordinate; this file keeps `./pool.js` (src/index.ts, the adapters, the tests) as it was.
export type { PoolInternals, PoolOptions } from './pool/create-pool.js'
export { createPool, POOL_OPTION_AREAS, requirePodNamesForPrimary } from './pool/create-pool.js'
export { Pool } from './pool/pool.js'
export type {
  CheckEvent,
  EjectEvent,
  EndpointStats,
  HealthChangeReason,
  HealthEvent,
  PanicEvent,
  PoolEvents,
  PoolStats,
  PrimaryEvent,
  StallEvent,
} from './pool/pool-events.js'
