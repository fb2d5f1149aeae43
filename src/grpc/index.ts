// The headless-lb/grpc subpath: a name resolver for @grpc/grpc-js. The root entry never imports
// this file, so applications without grpc-js never load it.
// First: a clear error on a Node.js older than the engines floor, before undici loads.
import '../node-version-guard.js'
// Node's async context frame class made fast while Node's functions are unoptimized (see the file).
import '../internal/settle-async-context.js'

export type { GrpcLike } from './grpc-like.js'
export type {
  HeadlessResolverOptions,
  HeadlessResolverRegistrationEvents,
  HeadlessResolverUpdate,
} from './register-headless-resolver.js'
export { HeadlessResolverRegistration, registerHeadlessResolver } from './register-headless-resolver.js'
