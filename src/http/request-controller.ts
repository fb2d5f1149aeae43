import type { Dispatcher } from 'undici'

type Handler = Dispatcher.DispatchHandler
type Controller = Dispatcher.DispatchController
export type RawHeaders = Exclude<Controller['rawHeaders'], undefined>

/** What a finished request holds instead of the caller's handler (see release()). */
const FINISHED: Handler = Object.freeze({})

/**
 * The controller the caller's handler sees, across every attempt of one request: its pause and
 * abort state, the raw headers of the response it was given, and the handler itself until its
 * last callback. The attempt loop (BalancedRequest) decides; this half only holds what the caller
 * reads.
 */
export abstract class RequestController implements Controller {
  /** The caller's handler; FINISHED once it has had its last callback. */
  protected handler: Handler
  protected abortReason: Error | null = null
  #paused = false
  rawHeaders: RawHeaders = null
  rawTrailers: RawHeaders = null

  constructor(handler: Handler) {
    this.handler = handler
  }

  /** The controller of the attempt whose response the caller gets, if one is in flight. */
  protected abstract attemptController(): Controller | null
  /** Ends the request with `reason` (see BalancedRequest). */
  abstract abort(reason: Error): void

  get aborted(): boolean {
    return this.abortReason !== null
  }
  get paused(): boolean {
    return this.#paused
  }
  get reason(): Error | null {
    return this.abortReason
  }

  pause(): void {
    this.#paused = true
    this.attemptController()?.pause()
  }

  resume(): void {
    this.#paused = false
    this.attemptController()?.resume()
  }

  /**
   * After the handler's last callback: the request stays reachable as the caller's controller, so
   * it drops the handler and the headers (held, they kept each response's buffers alive across
   * scavenges, and V8 then pretenured undici's body streams: docs/performance.md).
   */
  protected release(): void {
    this.handler = FINISHED
    this.rawHeaders = null
    this.rawTrailers = null
  }
}
