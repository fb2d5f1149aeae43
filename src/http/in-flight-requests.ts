import type { InFlight, LiveRequest } from './request-context.js'

/**
 * A dispatcher's requests: those started and not finished (an intrusive list, so linking
 * allocates nothing: destroy() walks it to end each one), and the count of those past their
 * first attempt and not answered yet (close() waits for them before it closes the connection
 * pools: one in its retry backoff still needs a pool for its next attempt).
 */
export class InFlightRequests implements InFlight {
  closed = false
  readonly lingering = new Set<{ stopLingering(): void }>()
  #live: LiveRequest | null = null
  #unanswered = 0
  #onAnswered: (() => void) | null = null

  /** No request unfinished (none waiting, in flight or streaming a body). */
  get idle(): boolean {
    return this.#live === null
  }

  link(request: LiveRequest): void {
    request.live = true
    request.liveNext = this.#live
    if (this.#live !== null) this.#live.livePrev = request
    this.#live = request
  }

  unlink(request: LiveRequest): void {
    request.live = false
    const { livePrev, liveNext } = request
    if (livePrev === null) this.#live = liveNext
    else livePrev.liveNext = liveNext
    if (liveNext !== null) liveNext.livePrev = livePrev
    request.livePrev = null
    request.liveNext = null
  }

  enter(): void {
    this.#unanswered++
  }

  leave(): void {
    if (--this.#unanswered > 0 || this.#onAnswered === null) return
    const answered = this.#onAnswered
    this.#onAnswered = null
    answered()
  }

  /** Settles once every request that made its first attempt has its answer (undefined: none waits). */
  allAnswered(): Promise<void> | undefined {
    if (this.#unanswered === 0) return undefined
    return new Promise<void>((resolve) => {
      this.#onAnswered = resolve
    })
  }

  /** Moves every request's attempts still queued on `endpointId` elsewhere; false if one could not move. */
  moveOff(endpointId: string): boolean {
    let movedAll = true
    for (let request = this.#live; request !== null; ) {
      // A move can end a request (a synchronous failure), which unlinks it: take the next first.
      const next = request.liveNext
      if (!request.moveOff(endpointId)) movedAll = false
      request = next
    }
    return movedAll
  }

  /** Aborts every attempt that lost a hedge race and still lingers. */
  stopLingering(): void {
    for (const attempt of [...this.lingering]) attempt.stopLingering()
  }

  /** Ends every unfinished request at once with `error`. */
  destroyAll(error: Error): void {
    // Each request ends (and unlinks itself) synchronously: take the next one first.
    for (let request = this.#live; request !== null; ) {
      const next = request.liveNext
      request.destroy(error)
      if (request.live) this.unlink(request)
      request = next
    }
  }
}
