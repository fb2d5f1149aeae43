import type { Endpoint, EndpointChange } from '../endpoint.js'

/**
 * What the pool needs from discovery: a live endpoint set with change events. DNS discovery
 * and the static list both implement it; tests may pass their own.
 */
export interface EndpointSource {
  /** The current set, a consistent snapshot (never mutated in place). */
  readonly endpoints: ReadonlyArray<Endpoint>
  /** True while the set is the last good answer kept after DNS errors (stale-if-error). */
  readonly stale: boolean
  /** Resolves after the first successful resolution; rejects with ResolutionError on timeout or abort. */
  ready(options?: { signal?: AbortSignal }): Promise<void>
  /** Asks for a re-resolution soon (rate-limited), e.g. after a connect to a known pod was refused. */
  refresh(): void
  on(event: 'change', listener: (change: EndpointChange) => void): this
  on(event: 'error', listener: (error: Error) => void): this
  off(event: 'change', listener: (change: EndpointChange) => void): this
  off(event: 'error', listener: (error: Error) => void): this
  close(): Promise<void>
}
