/**
 * The chaos suite's load: closed loops of GETs and POSTs through one client, each request under
 * its own `AbortSignal.timeout(deadline)` as the README shows. Every POST carries a unique
 * `x-request-id`, which the lab's pods record, so a POST that reached a pod twice is counted
 * from the pods' side. Outcomes go to the tally of the phase the request started in.
 */
import { setImmediate as nextTurn } from 'node:timers/promises'
import type { HeadlessClient } from '../../src/index.js'

/** What one phase's requests did. */
export class PhaseTally {
  sent = 0
  ok = 0
  /** Failures by code: an HTTP status (`503`), or the error's code with its cause's (`HLB_ERR_REQUEST_FAILED/UND_ERR_SOCKET`). */
  readonly failed = new Map<string, number>()
  /** Every request's time to its outcome (ms), failures included: what a caller waits. */
  readonly latencies: number[] = []
  /** The POST ids sent in this phase (to count, on the pods, those that arrived more than once). */
  readonly postIds: string[] = []
  /** 2xx answers that completed while `measuring`: the throughput under the fault. */
  okMeasured = 0
  measuring = false

  fail(code: string): void {
    this.failed.set(code, (this.failed.get(code) ?? 0) + 1)
  }
}

export interface TrafficOptions {
  readonly getLoops: number
  readonly postLoops: number
  /** Each request's deadline (`AbortSignal.timeout`). */
  readonly deadlineMs: number
  /** At most this many requests per run (the loops stop at the time limit or at this count). */
  readonly maxRequests: number
}

/** The code a failed request is counted under. */
export function failureCode(error: unknown): string {
  const e = error as { code?: unknown; cause?: { code?: unknown; name?: unknown }; name?: unknown }
  const code = typeof e?.code === 'string' ? e.code : String(e?.name ?? 'Error')
  // RequestFailedError says little alone: its cause (the last attempt's error) says what failed.
  const cause = typeof e?.cause?.code === 'string' ? e.cause.code : undefined
  return code === 'HLB_ERR_REQUEST_FAILED' && cause !== undefined ? `${code}/${cause}` : code
}

/** Closed loops of GET and POST against a client; `start()` a run, `stop()` it. */
export class ChaosTraffic {
  readonly #client: HeadlessClient
  readonly #options: TrafficOptions
  readonly #runId = `${process.pid}-${Date.now().toString(36)}`
  #nextId = 0
  #inFlight = 0
  #stopping = true
  #loops: Promise<void>[] = []

  constructor(client: HeadlessClient, options: TrafficOptions) {
    this.#client = client
    this.#options = options
  }

  /** Requests started and not yet settled (response body read, or failed). */
  get inFlight(): number {
    return this.#inFlight
  }

  /** Starts the loops; they put every request they start into `tally`. */
  start(tally: PhaseTally): void {
    if (!this.#stopping) throw new Error('the traffic is already running')
    this.#stopping = false
    let budget = this.#options.maxRequests
    const take = (): boolean => !this.#stopping && budget-- > 0
    this.#loops = [
      ...Array.from({ length: this.#options.getLoops }, () => this.#loop('GET', tally, take)),
      ...Array.from({ length: this.#options.postLoops }, () => this.#loop('POST', tally, take)),
    ]
  }

  /** Stops starting requests; resolves when every loop's last request has settled. */
  async stop(): Promise<void> {
    this.#stopping = true
    await Promise.all(this.#loops)
    this.#loops = []
  }

  async #loop(method: 'GET' | 'POST', tally: PhaseTally, take: () => boolean): Promise<void> {
    while (take()) {
      const started = performance.now()
      tally.sent++
      this.#inFlight++
      try {
        let status: number
        if (method === 'GET') {
          const res = await this.#client.request('/', {
            signal: AbortSignal.timeout(this.#options.deadlineMs),
          })
          status = res.statusCode
          await res.body.dump()
        } else {
          const id = `${this.#runId}-${this.#nextId++}`
          tally.postIds.push(id)
          const res = await this.#client.request('/orders', {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-request-id': id },
            body: '{"item":1}',
            signal: AbortSignal.timeout(this.#options.deadlineMs),
          })
          status = res.statusCode
          await res.body.dump()
        }
        if (status >= 200 && status < 300) {
          tally.ok++
          if (tally.measuring) tally.okMeasured++
        } else tally.fail(String(status))
      } catch (error) {
        tally.fail(failureCode(error))
        // A failure can come back at once (no endpoint, closed): without a turn of the event
        // loop, a loop of rejected promises would starve the timers that end the phase.
        this.#settle(tally, started)
        await nextTurn()
        continue
      }
      this.#settle(tally, started)
    }
  }

  #settle(tally: PhaseTally, started: number): void {
    this.#inFlight--
    tally.latencies.push(performance.now() - started)
  }
}
