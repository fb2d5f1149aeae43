// The headless-lb/grpc subpath: a name resolver for @grpc/grpc-js. The root entry never imports
// this file, so applications without grpc-js never load it.
// First: a clear error on a Node.js older than the engines floor, before undici loads.
import '../node-version-guard.js'

export type { GrpcLike } from './grpc-like.js'
export type {
  HeadlessResolverOptions,
  HeadlessResolverRegistrationEvents,
  HeadlessResolverUpdate,
} from './register-headless-resolver.js'
export { HeadlessResolverRegistration, registerHeadlessResolver } from './register-headless-resolver.js'
