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

/** The request a set-aside response is handed to (BalancedRequest), as replaying sees it. */
export interface ReplayTarget extends Dispatcher.DispatchController {
  /** Ended or aborted (the caller's handler may abort while it is handed the response). */
  readonly over: boolean
  /** The request is over: called just before the response's last callback. */
  finishReplay(rawTrailers: RawHeaders): void
}

/**
 * Hands `kept` to `handler` as if it had just arrived, `target` being its controller. Not called
 * from undici (a timer or a microtask runs it): what the handler throws is returned, for the
 * request to report through onResponseError as undici would, instead of an uncaught exception.
 */
export function replay(
  kept: SetAsideResponse,
  handler: Dispatcher.DispatchHandler,
  target: ReplayTarget,
): { readonly error: unknown } | null {
  try {
    handler.onResponseStart?.(target, kept.statusCode, kept.headers as never, kept.text)
    for (const chunk of kept.chunks) {
      if (target.over) return null
      handler.onResponseData?.(target, chunk)
    }
    if (target.over) return null
    target.finishReplay(kept.rawTrailers)
    handler.onResponseEnd?.(target, (kept.trailers ?? {}) as never)
    return null
  } catch (error) {
    return { error }
  }
}
