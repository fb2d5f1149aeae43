import { errorMonitor } from 'node:events'
import type { ClientRequest, IncomingMessage } from 'node:http'
import { performance } from 'node:perf_hooks'
import type { Endpoint } from '../endpoint.js'
import type { FailureKind, Lease } from '../lease.js'
import { classifyFailure } from './classify-failure.js'

/**
 * One node:http request to a balanced service, from the agent's side: the lease of the pod it
 * went to, and the release of that lease exactly once with what happened (the response status
 * and latency to its headers, a socket error, or `cancelled`), when the response has been read
 * or the request failed. Listening changes nothing for the caller: errors are watched through
 * `errorMonitor`, and a response nobody listens for is still dumped, as Node does.
 */
export class RoutedRequest {
  readonly req: ClientRequest
  /** Pods already tried by this request (connects that failed): excluded from the next pick. */
  readonly tried: Endpoint[] = []
  lease: Lease | null = null
  endpoint: Endpoint | null = null
  start = 0
  /** The request's options as the agent got them (the pod's address goes on top of a copy). */
  options: Record<string, unknown> | null = null
  /** The last failed connect's error: what the caller gets when no other pod is left to try. */
  lastError: unknown
  #latency = -1
  #response: IncomingMessage | null = null
  #error: unknown
  #onDone: (() => void) | null

  constructor(req: ClientRequest, onDone: () => void) {
    this.req = req
    this.#onDone = onDone
    req.on(errorMonitor, (error: unknown) => {
      this.#error ??= error
    })
    // First in line, so that the count of other listeners is known (see #onResponse).
    req.prependOnceListener('response', (res: IncomingMessage) => this.#onResponse(res))
    req.once('close', () => {
      if (this.#response === null) this.#releaseFailure(this.#error)
      this.#done()
    })
  }

  /** It ended without a response (a socket error, no endpoint, aborted). */
  get failed(): boolean {
    return this.#response === null
  }

  /** The request now goes to this pod. */
  assign(lease: Lease, now: number): void {
    this.lease = lease
    this.endpoint = lease.endpoint
    this.start = now
  }

  /** Releases the current lease as failed with `kind` (a connect that failed: the request may go elsewhere). */
  releaseAs(kind: FailureKind, error: unknown, now: number): void {
    const lease = this.lease
    if (lease === null) return
    this.lease = null
    lease.release({ ok: false, kind, error, latency: now - this.start })
  }

  #onResponse(res: IncomingMessage): void {
    this.#response = res
    this.#latency = performance.now() - this.start
    // Node dumps a response when nobody listens for 'response'; our listener must not keep it unread.
    if (this.req.listenerCount('response') === 0) res.resume()
    res.once('end', () => this.#releaseResponse(res))
    res.once('close', () => {
      if (res.complete) this.#releaseResponse(res)
      else this.#releaseFailure(res.errored ?? this.#error)
    })
  }

  #releaseResponse(res: IncomingMessage): void {
    const lease = this.lease
    if (lease === null) return
    this.lease = null
    const status = res.statusCode ?? 0
    if (status >= 500) lease.release({ ok: false, kind: 'status', latency: this.#latency })
    else lease.release({ ok: true, latency: this.#latency })
  }

  #releaseFailure(error: unknown): void {
    const lease = this.lease
    if (lease === null) return
    this.lease = null
    const latency = this.#latency >= 0 ? this.#latency : performance.now() - this.start
    // No error: the caller destroyed the request or the response (axios' maxContentLength, a
    // cancelled got promise). That says nothing about the pod.
    const kind = error === undefined || error === null ? 'cancelled' : kindOf(error)
    lease.release({ ok: false, kind, error, latency })
  }

  #done(): void {
    const done = this.#onDone
    this.#onDone = null
    done?.()
  }
}

function kindOf(error: unknown): FailureKind {
  const e = error as { code?: unknown; name?: unknown }
  if (e.code === 'ABORT_ERR' || e.name === 'AbortError') return 'cancelled'
  return classifyFailure(error)
}
