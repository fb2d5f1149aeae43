import type { Endpoint } from './endpoint.js'
import { describeEndpoint } from './endpoint.js'

/**
 * Every runtime error headless-lb hands to a caller extends this class and carries a stable
 * `code`, the service involved, the endpoints involved (if any) and the underlying error as
 * `cause`. Invalid options are the exception: they throw `TypeError`/`RangeError` at
 * construction, naming the option path. Runtime errors deliberately do not extend
 * `TypeError`, because p-retry treats a `TypeError` as a programming error and never retries it.
 */
export class HeadlessLbError extends Error {
  readonly code: string
  readonly service: string | undefined
  readonly endpoints: ReadonlyArray<Endpoint>

  constructor(
    code: string,
    message: string,
    details: { service?: string | undefined; endpoints?: ReadonlyArray<Endpoint>; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause })
    this.name = new.target.name
    this.code = code
    this.service = details.service
    this.endpoints = details.endpoints ?? []
  }
}

/** The first resolution of a service did not succeed before `ready()` gave up (timeout or abort). */
export class ResolutionError extends HeadlessLbError {
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
  constructor(what: string, service?: string) {
    super('HLB_ERR_CLOSED', `${what}${service ? ` for ${service}` : ''} is closed`, { service })
  }
}

/**
 * `destroy()` ended the request at once (no error was given to `destroy`): it was in flight, in
 * its retry backoff, waiting for the pool, or streaming its response body.
 */
export class DestroyedError extends HeadlessLbError {
  constructor(what: string, service?: string) {
    super('HLB_ERR_DESTROYED', `${what}${service ? ` for ${service}` : ''} was destroyed`, { service })
  }
}

/** An HTTP request failed on every attempt; `attempts` says where each went and why. */
export class RequestFailedError extends HeadlessLbError {
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
