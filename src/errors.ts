import type { Endpoint } from './endpoint.js'
import { describeEndpoint } from './endpoint.js'

/** The stable `code` of each runtime error class. */
export type HeadlessLbErrorCode =
  | 'HLB_ERR_RESOLUTION'
  | 'HLB_ERR_NO_ENDPOINTS'
  | 'HLB_ERR_NO_PRIMARY'
  | 'HLB_ERR_CLOSED'
  | 'HLB_ERR_DESTROYED'
  | 'HLB_ERR_REQUEST_FAILED'
  | 'HLB_ERR_RETRY_BUDGET'
  | 'HLB_ERR_DEADLINE'

/**
 * The brand every headless-lb error carries. The package ships an ESM and a CommonJS copy of each
 * class, and an application that both imports and requires it (or two dependencies that do) would
 * otherwise see `instanceof` fail across the copies; undici brands its errors with `Symbol.for`
 * for the same reason. A class matches a branded error by its `code`; the brand key and the codes
 * are part of the public contract.
 */
const kBrand = Symbol.for('headless-lb.error')

/**
 * Every runtime error headless-lb hands to a caller extends this class and carries a stable
 * `code`, the service involved, the endpoints involved (if any) and the underlying error as
 * `cause`. Invalid options are the exception: they throw `InvalidOptionError` (a `TypeError`) or
 * `OptionRangeError` (a `RangeError`) at construction, naming the option path
 * (invalid-option-error.ts). Runtime errors deliberately do not extend `TypeError`: by Node's
 * convention (and retry libraries', p-retry's among them) a `TypeError` is a programming error,
 * never worth retrying, while these are about the service and often are.
 *
 * `instanceof` works across the package's ESM and CommonJS copies (see the brand above).
 */
export class HeadlessLbError extends Error {
  /** The code the class's instances carry; set by each concrete class. */
  static readonly errorCode: HeadlessLbErrorCode | undefined = undefined

  readonly code: HeadlessLbErrorCode
  readonly service: string | undefined
  readonly endpoints: ReadonlyArray<Endpoint>

  constructor(
    code: HeadlessLbErrorCode,
    message: string,
    details: { service?: string | undefined; endpoints?: ReadonlyArray<Endpoint>; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause })
    this.name = new.target.name
    this.code = code
    this.service = details.service
    this.endpoints = details.endpoints ?? []
    Object.defineProperty(this, kBrand, { value: true })
  }

  static override [Symbol.hasInstance](instance: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class right of `instanceof`: one method serves every class.
    return isBranded(instance) && matchesClass(this, instance)
  }
}

function isBranded(instance: unknown): instance is HeadlessLbError {
  return (
    typeof instance === 'object' && instance !== null && (instance as { [kBrand]?: unknown })[kBrand] === true
  )
}

/**
 * One of our classes matches a branded error by its code; a subclass an application derives from
 * one of ours (it has no code of its own) falls back to the prototype chain.
 */
function matchesClass(target: typeof HeadlessLbError, instance: HeadlessLbError): boolean {
  if (target === HeadlessLbError) return true
  return Object.hasOwn(target, 'errorCode')
    ? instance.code === target.errorCode
    : Function.prototype[Symbol.hasInstance].call(target, instance)
}

/** The first resolution of a service did not succeed before `ready()` gave up (timeout or abort). */
export class ResolutionError extends HeadlessLbError {
  static override readonly errorCode: HeadlessLbErrorCode = 'HLB_ERR_RESOLUTION'
  /** The DNS query that failed, e.g. `SRV _http._tcp.web.default.svc.cluster.local`. */
  readonly query: string | undefined
  /** The DNS error code (`ENOTFOUND`, `ESERVFAIL`, `ETIMEOUT`, `ECONNREFUSED`...), when DNS gave one. */
  readonly dnsCode: string | undefined

  constructor(
    message: string,
    details: { service: string; query?: string | undefined; dnsCode?: string | undefined; cause?: unknown },
  ) {
    super('HLB_ERR_RESOLUTION', message, details)
    this.query = details.query
    this.dnsCode = details.dnsCode
  }
}

/** The service has no endpoint that may take this request (none ready in DNS, or all excluded). */
export class NoEndpointsError extends HeadlessLbError {
  static override readonly errorCode: HeadlessLbErrorCode = 'HLB_ERR_NO_ENDPOINTS'
  constructor(
    service: string,
    reason: string,
    details: { endpoints?: ReadonlyArray<Endpoint>; cause?: unknown } = {},
  ) {
    super('HLB_ERR_NO_ENDPOINTS', `No endpoint of ${service} can take the request: ${reason}`, {
      service,
      ...details,
    })
  }
}

/** A request needs the primary and none is known (or it is not fit). Never answered with a replica. */
export class NoPrimaryError extends HeadlessLbError {
  static override readonly errorCode: HeadlessLbErrorCode = 'HLB_ERR_NO_PRIMARY'
  constructor(
    service: string,
    reason: string,
    details: { endpoints?: ReadonlyArray<Endpoint>; cause?: unknown } = {},
  ) {
    super('HLB_ERR_NO_PRIMARY', `No primary of ${service} is available: ${reason}`, { service, ...details })
  }
}

/** The pool, client or agent was used after `close()`. */
export class ClosedError extends HeadlessLbError {
  static override readonly errorCode: HeadlessLbErrorCode = 'HLB_ERR_CLOSED'
  constructor(what: string, service?: string) {
    super('HLB_ERR_CLOSED', `${what}${service ? ` for ${service}` : ''} is closed`, { service })
  }
}

/**
 * `destroy()` ended the request at once (no error was given to `destroy`): it was in flight, in
 * its retry backoff, waiting for the pool, or streaming its response body.
 */
export class DestroyedError extends HeadlessLbError {
  static override readonly errorCode: HeadlessLbErrorCode = 'HLB_ERR_DESTROYED'
  constructor(what: string, service?: string) {
    super('HLB_ERR_DESTROYED', `${what}${service ? ` for ${service}` : ''} was destroyed`, { service })
  }
}

/** An HTTP request failed on every attempt; `attempts` says where each went and why. */
export class RequestFailedError extends HeadlessLbError {
  static override readonly errorCode: HeadlessLbErrorCode = 'HLB_ERR_REQUEST_FAILED'
  readonly attempts: ReadonlyArray<AttemptRecord>
  constructor(service: string, attempts: ReadonlyArray<AttemptRecord>, reason: string, cause?: unknown) {
    const tried = attempts.map((a) => describeEndpoint(a.endpoint)).join(', ') || 'none'
    super('HLB_ERR_REQUEST_FAILED', `Request to ${service} failed: ${reason} (tried: ${tried})`, {
      service,
      endpoints: attempts.map((a) => a.endpoint),
      cause,
    })
    this.attempts = attempts
  }
}

/** A retry was needed but the retry budget (a share of recent requests) is spent. */
export class RetryBudgetExhaustedError extends HeadlessLbError {
  static override readonly errorCode: HeadlessLbErrorCode = 'HLB_ERR_RETRY_BUDGET'
  constructor(service: string, endpoints: ReadonlyArray<Endpoint>, cause?: unknown) {
    super('HLB_ERR_RETRY_BUDGET', `Retry budget of ${service} is exhausted; not retrying`, {
      service,
      endpoints,
      cause,
    })
  }
}

/** The caller's deadline (signal) ran out or was aborted before a response. */
export class DeadlineExceededError extends HeadlessLbError {
  static override readonly errorCode: HeadlessLbErrorCode = 'HLB_ERR_DEADLINE'
  constructor(service: string, endpoints: ReadonlyArray<Endpoint>, cause?: unknown) {
    super('HLB_ERR_DEADLINE', `Request to ${service} was aborted or ran out of time`, {
      service,
      endpoints,
      cause,
    })
  }
}

/** One attempt of a request: which endpoint, how it ended. */
export interface AttemptRecord {
  readonly endpoint: Endpoint
  readonly error?: unknown
  readonly statusCode?: number
}
