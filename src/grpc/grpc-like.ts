/**
 * The parts of @grpc/grpc-js this adapter uses, as structural types. The user's own grpc-js
 * module is passed in, so the package never loads a second copy (two copies would keep two
 * resolver registries, and the channel would never see ours), and these types accept every
 * version the adapter supports without importing @grpc/grpc-js's declarations here.
 *
 * The resolver API is grpc-js's `experimental` one (packages/grpc-js/src/resolver.ts). Its
 * listener changed in 1.14: before, an object with `onSuccessfulResolution`/`onError`; since, one
 * function taking `StatusOr<Endpoint[]>`. Both shapes are declared and both are served.
 */

/** `headless://authority/path`, parsed by grpc-js (uri-parser.ts). */
export interface GrpcUri {
  readonly scheme?: string | undefined
  readonly authority?: string | undefined
  readonly path: string
}

export interface GrpcTcpAddress {
  readonly host: string
  readonly port: number
}

/** grpc-js's Endpoint (since 1.10): one backend, possibly with several addresses. */
export interface GrpcEndpoint {
  readonly addresses: GrpcTcpAddress[]
}

/** A status as grpc-js reports it: `code` 14 is UNAVAILABLE. */
export interface GrpcStatusObject {
  readonly code: number
  readonly details: string
  readonly metadata: unknown
}

export type GrpcStatusOr<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: GrpcStatusObject }

/** A parsed service config, as `grpc.service_config` gives one (`loadBalancingConfig` etc.). */
export interface GrpcServiceConfig {
  readonly loadBalancingConfig: ReadonlyArray<Record<string, unknown>>
  readonly methodConfig: ReadonlyArray<unknown>
}

/** grpc-js >= 1.14: `(endpointList, attributes, serviceConfig, resolutionNote) => accepted`. */
export type GrpcResolverListenerFunction = (
  endpointList: GrpcStatusOr<GrpcEndpoint[]>,
  attributes: Record<string, unknown>,
  serviceConfig: GrpcStatusOr<GrpcServiceConfig> | null,
  resolutionNote: string,
) => boolean

/** grpc-js 1.10 to 1.13. */
export interface GrpcResolverListenerObject {
  onSuccessfulResolution(
    endpointList: GrpcEndpoint[],
    serviceConfig: GrpcServiceConfig | null,
    serviceConfigError: GrpcStatusObject | null,
    configSelector: null,
    attributes: Record<string, unknown>,
  ): void
  onError(error: GrpcStatusObject): void
}

export type GrpcResolverListener = GrpcResolverListenerFunction | GrpcResolverListenerObject

/** What `registerResolver` takes: a class with a static `getDefaultAuthority`. */
export interface GrpcResolverConstructor {
  new (
    target: GrpcUri,
    listener: GrpcResolverListener,
    channelOptions: Record<string, unknown>,
  ): {
    updateResolution(): void
    destroy(): void
  }
  getDefaultAuthority(target: GrpcUri): string
}

/** The module object: `import * as grpc from '@grpc/grpc-js'` (or `require`). */
export interface GrpcLike {
  readonly experimental: {
    // `never`: grpc-js declares the class parameter with its own types (which differ between
    // versions); any module's function is accepted, and the adapter passes a GrpcResolverConstructor.
    readonly registerResolver: (scheme: string, resolverClass: never) => void
  }
  readonly Metadata: new () => unknown
}
