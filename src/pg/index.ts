// headless-lb/pg: PostgreSQL read/write routing over a StatefulSet with `pg`. The root entry
// never imports this module, so `pg` stays an optional peer dependency.
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
