import type { PrimaryProbe } from '../balancing/balancing-options.js'

/**
 * Remembers which endpoints the role probe has answered for (or failed on) at least once, so a
 * router's `ready()` can wait for the first round: `db.replica` right after `ready()` must find
 * the replicas, not only the primary.
 */
export class ProbeTracker {
  private readonly settled = new Set<string>()
  private readonly listeners = new Set<() => void>()

  /** The probe, reporting each settled call. */
  wrap(probe: PrimaryProbe): PrimaryProbe {
    return (endpoint, signal) => {
      const answer = probe(endpoint, signal)
      const settle = (): void => {
        if (this.settled.has(endpoint.id)) return
        this.settled.add(endpoint.id)
        // The pool applies the answer after this promise settles: tell listeners a turn later.
        if (this.listeners.size > 0) setImmediate(() => this.notify())
      }
      answer.then(settle, settle)
      return answer
    }
  }

  /** Whether every one of these endpoints has been probed once. */
  probedAll(ids: Iterable<string>): boolean {
    for (const id of ids) if (!this.settled.has(id)) return false
    return true
  }

  onSettled(listener: () => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener()
  }
}
