// headless-lb/pg: PostgreSQL read/write routing over a StatefulSet with `pg`. The root entry
// never imports this module, so `pg` stays an optional peer dependency.
// Node's async context frame class made fast while Node's functions are unoptimized (see the file).
import '../internal/settle-async-context.js'

export type { RouterPrimaryOptions } from '../adapters/router-options.js'
export { classifyPgError, type PgFailure } from './pg-failure.js'
export {
  createPgRouter,
  type PgClientConfig,
  type PgConnectionStats,
  type PgConnectOptions,
  PgRoute,
  PgRouter,
  type PgRouterOptions,
  type PgRouterStats,
} from './pg-router.js'
