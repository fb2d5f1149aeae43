import type { Dispatcher } from 'undici'

type RawHeaders = Exclude<Dispatcher.DispatchController['rawHeaders'], undefined>

/** Bodies of retryable responses are kept (to return the last one if no retry can happen) up to this size. */
export const SET_ASIDE_LIMIT = 64 * 1024

/**
 * A retryable response (a 503...) set aside while its request is retried elsewhere: if no retry
 * can be made after all, the caller gets it as the last answer a server gave, rather than an
 * error. Kept whole or not at all: a body over SET_ASIDE_LIMIT, or one that broke, is dropped.
 */
export class SetAsideResponse {
  readonly statusCode: number
  readonly headers: Record<string, unknown>
  readonly text: string | undefined
  readonly rawHeaders: RawHeaders
  readonly chunks: Buffer[] = []
  trailers: Record<string, unknown> | null = null
  rawTrailers: RawHeaders = null
  #size = 0
  #dropped = false

  constructor(
    statusCode: number,
    headers: Record<string, unknown>,
    text: string | undefined,
    rawHeaders: RawHeaders,
  ) {
    this.statusCode = statusCode
    this.headers = headers
    this.text = text
    this.rawHeaders = rawHeaders
  }

  /** It ended within the limit: it can be handed to the caller. */
  get complete(): boolean {
    return !this.#dropped && this.trailers !== null
  }

  keep(chunk: Buffer): void {
    if (this.#dropped) return
    this.#size += chunk.length
    if (this.#size > SET_ASIDE_LIMIT) this.drop()
    else this.chunks.push(chunk)
  }

  /** The body ended: `trailers` (null when the body broke, which drops the response). */
  end(trailers: Record<string, unknown> | null, rawTrailers: RawHeaders | undefined): void {
    if (trailers === null) this.drop()
    else if (!this.#dropped) {
      this.trailers = trailers
      this.rawTrailers = rawTrailers ?? null
    }
  }

  drop(): void {
    this.#dropped = true
    this.chunks.length = 0
  }
}
