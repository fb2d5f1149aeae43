// headless-lb/ioredis: Redis primary/replica routing over a StatefulSet with ioredis. The root
// entry never imports this module, so `ioredis` stays an optional peer dependency.
// Node's async context frame class made fast while Node's functions are unoptimized (see the file).
import '../internal/settle-async-context.js'

export type { RouterPrimaryOptions } from '../adapters/router-options.js'
export { classifyRedisError, type RedisFailure } from './redis-failure.js'
export {
  createRedisRouter,
  type RedisClientOptions,
  type RedisConnectionStats,
  RedisRouter,
  type RedisRouterOptions,
  type RedisRouterStats,
} from './redis-router.js'
