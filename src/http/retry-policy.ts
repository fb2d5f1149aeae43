import type { FailureKind } from '../lease.js'
import type { ResolvedHttpOptions } from './client-options.js'

/** How one attempt failed, as the attempt loop saw it. */
export interface AttemptFailure {
  /** `status` for a response whose status is retried (a 503...); otherwise what `classifyFailure` said. */
  readonly kind: FailureKind
  /** The error, when the attempt failed without a response. */
  readonly error?: unknown
  /** The response's status, for `status`. */
  readonly statusCode?: number
}

/** What the policy needs to know about the request, besides the failure. */
export interface RetryState {
  /** Attempts sent so far (the failed one, and any hedges, included). */
  readonly attempt: number
  /** Retries so far that waited out a backoff (an immediate retry does not): the backoff's exponent. */
  readonly backoffs: number
  /** The request's method, upper-case. */
  readonly method: string
  /** The request may have reached the server: undici handed it to a connection, or read some of its body. */
  readonly sent: boolean
  /** The body can be sent again (none, a string, a buffer, a Blob...; not a stream already read). */
  readonly bodyReplayable: boolean
  /** `Retry-After` asked for by the response, ms (0 when absent). */
  readonly retryAfter: number
  /** Retries the budget allows right now (`Infinity` without a budget). */
  readonly budget: number
}

/** Why a failed attempt is not retried: data, rendered once by `explainNoRetry`. */
export type NoRetryReason =
  /** undici refused the request itself (its options, headers, or a wrong content-length): every endpoint would. */
  | 'request-fault'
  /** A failure that is never retried (`other`, or a reset or timeout with `onReset`/`onTimeout` off). */
  | 'not-retryable'
  /** The request may have reached the server, and its method is not retried (or its body cannot be replayed). */
  | 'not-idempotent'
  /** A response status not in `retry.statusCodes`. */
  | 'status-not-retried'
  /** The response asked for a longer `Retry-After` than `retry.maxRetryAfter`. */
  | 'retry-after-too-long'
  /** `retry.retries` retries were made already. */
  | 'no-retries-left'
  /** The retry budget is spent. */
  | 'budget'

export type RetryDecision =
  | { readonly retry: false; readonly why: NoRetryReason }
  | {
      readonly retry: true
      /** How long to wait before the next attempt: `Retry-After`, then the backoff. */
      readonly delayMs: number
      /**
       * The request never left this process (a refused connect before undici wrote it): retry on
       * another endpoint at once, without backoff, as gRPC's transparent retries do. It still
       * counts against `retry.retries` and the budget.
       */
      readonly immediate: boolean
    }

/** The longest delay setTimeout honours (2^31-1 ms). */
const MAX_DELAY = 2 ** 31 - 1

/**
 * Whether and when a failed attempt is retried: the only place that counts retries against
 * `retry.retries`, weighs the budget, and computes the backoff. Pure (randomness is injected): the
 * attempt loop asks it once per failed attempt and acts on the answer; the table test covers it.
 *
 * The backoff is p-retry's formula, which this package used before: `minTimeout x factor^n`,
 * times a random factor in [1, 2) when `randomize`, capped at `maxTimeout`.
 */
export class RetryPolicy {
  readonly retries: number
  readonly #methods: ReadonlySet<string>
  readonly #statusCodes: ReadonlySet<number>
  readonly #onReset: boolean
  readonly #onTimeout: boolean
  readonly #minTimeout: number
  readonly #maxTimeout: number
  readonly #factor: number
  readonly #randomize: boolean
  readonly #maxRetryAfter: number
  readonly #random: () => number

  constructor(
    options: Pick<
      ResolvedHttpOptions,
      | 'retries'
      | 'retryMethods'
      | 'retryStatusCodes'
      | 'retryOnReset'
      | 'retryOnTimeout'
      | 'retryMinTimeout'
      | 'retryMaxTimeout'
      | 'factor'
      | 'randomize'
      | 'maxRetryAfter'
    >,
    random: () => number = Math.random,
  ) {
    this.retries = options.retries
    this.#methods = options.retryMethods
    this.#statusCodes = options.retryStatusCodes
    this.#onReset = options.retryOnReset
    this.#onTimeout = options.retryOnTimeout
    this.#minTimeout = options.retryMinTimeout
    this.#maxTimeout = options.retryMaxTimeout
    this.#factor = options.factor
    this.#randomize = options.randomize
    this.#maxRetryAfter = options.maxRetryAfter
    this.#random = random
  }

  /** The method may be sent again after it reached a server (`retry.methods`, RFC 9110's idempotent ones by default). */
  idempotent(method: string): boolean {
    return this.#methods.has(method)
  }

  /**
   * A response with this status would be retried, count and budget aside: it is set aside while
   * another attempt of a hedged request is still in flight.
   */
  retriesStatus(statusCode: number, method: string, bodyReplayable: boolean): boolean {
    return this.#statusCodes.has(statusCode) && bodyReplayable && this.#methods.has(method)
  }

  decide(failure: AttemptFailure, state: RetryState): RetryDecision {
    if (failure.kind === 'status') {
      const statusCode = failure.statusCode ?? 0
      if (!this.#statusCodes.has(statusCode)) return NO.statusNotRetried
      if (!state.bodyReplayable || !this.#methods.has(state.method)) return NO.notIdempotent
      if (state.retryAfter > this.#maxRetryAfter) return NO.retryAfterTooLong
    } else {
      if (isRequestFault(failure.error)) return NO.requestFault
      if (state.sent && !this.#retriesSent(failure.kind, state)) {
        return state.bodyReplayable && this.#methods.has(state.method) ? NO.notRetryable : NO.notIdempotent
      }
    }
    if (state.attempt > this.retries) return NO.noRetriesLeft
    if (state.budget < 1) return NO.budget
    if (failure.kind !== 'status' && !state.sent) return IMMEDIATE
    return { retry: true, delayMs: state.retryAfter + this.backoff(state.backoffs), immediate: false }
  }

  /** The backoff before a retry after `backoffs` earlier ones, ms. */
  backoff(backoffs: number): number {
    if (this.#minTimeout === 0) return 0
    const jitter = this.#randomize ? this.#random() + 1 : 1
    const delay = Math.round(jitter * this.#minTimeout * this.#factor ** backoffs)
    return Math.min(delay, Math.ceil(this.#maxTimeout), MAX_DELAY)
  }

  /** A failure after the request may have reached the server: retried for idempotent methods with a replayable body. */
  #retriesSent(kind: FailureKind, state: RetryState): boolean {
    if (!state.bodyReplayable || !this.#methods.has(state.method)) return false
    switch (kind) {
      case 'connect-refused':
      case 'connect-timeout':
        return true
      case 'reset':
        return this.#onReset
      case 'timeout':
        return this.#onTimeout
      default:
        return false
    }
  }
}

const NO = {
  requestFault: { retry: false, why: 'request-fault' },
  notRetryable: { retry: false, why: 'not-retryable' },
  notIdempotent: { retry: false, why: 'not-idempotent' },
  statusNotRetried: { retry: false, why: 'status-not-retried' },
  retryAfterTooLong: { retry: false, why: 'retry-after-too-long' },
  noRetriesLeft: { retry: false, why: 'no-retries-left' },
  budget: { retry: false, why: 'budget' },
} as const satisfies Record<string, RetryDecision>

const IMMEDIATE: RetryDecision = Object.freeze({ retry: true, delayMs: 0, immediate: true })

/** A response status the retry policy retries (502/503/504 by default), as an attempt's error. */
export class RetryableStatusError extends Error {
  readonly code = 'HLB_ERR_RETRYABLE_STATUS'
  readonly statusCode: number
  constructor(statusCode: number) {
    super(`response status ${statusCode}`)
    this.statusCode = statusCode
  }
}

/** undici's errors for a request it will not send anywhere (invalid options or headers, a wrong content-length). */
export function isRequestFault(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return code === 'UND_ERR_INVALID_ARG' || code === 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH'
}

/** How an attempt failed, for an error message: `status 503`, or `reset (ECONNRESET)`. */
export function describeFailure(failure: AttemptFailure): string {
  if (failure.statusCode !== undefined) return `status ${failure.statusCode}`
  const error = failure.error as { code?: string; message?: string } | undefined
  return `${failure.kind} (${error?.code ?? error?.message ?? 'unknown'})`
}

/** Why no retry was made, for an error message (`retries`: the `retry.retries` setting). */
export function explainNoRetry(why: NoRetryReason, retries: number): string {
  switch (why) {
    case 'request-fault':
      return 'not retried: undici refused the request itself, not the endpoint'
    case 'not-retryable':
      return 'not a retryable failure'
    case 'not-idempotent':
      return 'not retried: the request may have reached the server and is not idempotent (or its body cannot be replayed)'
    case 'status-not-retried':
      return 'not a retried status (retry.statusCodes)'
    case 'retry-after-too-long':
      return 'Retry-After is longer than retry.maxRetryAfter'
    case 'no-retries-left':
      return `no retries left (retry.retries ${retries})`
    case 'budget':
      return 'the retry budget is spent'
  }
}
