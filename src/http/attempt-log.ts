import type { Endpoint } from '../endpoint.js'
import type { AttemptRecord } from '../errors.js'
import { classifyFailure } from './classify-failure.js'
import { describeFailure } from './retry-policy.js'

/**
 * The attempts of one request that ended without an answer, in order: the endpoints not to try
 * again, and what a RequestFailedError lists. Made at the first failed attempt.
 */
export class AttemptLog {
  readonly records: AttemptRecord[] = []

  record(endpoint: Endpoint, error: unknown, statusCode: number | undefined): void {
    this.records.push(
      statusCode !== undefined
        ? { endpoint, statusCode }
        : error !== undefined
          ? { endpoint, error }
          : { endpoint },
    )
  }

  /** Pushes the ids of the endpoints tried. */
  triedIds(into: string[]): void {
    for (const record of this.records) into.push(record.endpoint.id)
  }

  /** The endpoints tried, then `more` that are not among them yet. */
  endpoints(more: Iterable<Endpoint>): Endpoint[] {
    const list = this.records.map((a) => a.endpoint)
    for (const endpoint of more) if (!list.includes(endpoint)) list.push(endpoint)
    return list
  }

  /** The last attempt's failure, for a message (`status 503`, `reset (ECONNRESET)`). */
  describeLast(): string {
    const last = this.records[this.records.length - 1]
    if (last?.statusCode !== undefined) return `status ${last.statusCode}`
    return describeFailure({ kind: classifyFailure(last?.error), error: last?.error })
  }

  get lastError(): unknown {
    return this.records[this.records.length - 1]?.error
  }
}
