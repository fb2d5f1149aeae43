/**
 * The reason an attempt is taken back before undici wrote it: its endpoint left rotation
 * (ejected, failing its checks, stalled, removed) while the attempt still waited for a connection
 * there, so it goes to another endpoint instead. The attempt ends `cancelled` with this error in
 * `attempt-end`; the request carries on elsewhere.
 */
export class AttemptMovedError extends Error {
  readonly code = 'HLB_ERR_ATTEMPT_MOVED'
  readonly endpointId: string
  constructor(endpointId: string) {
    super(`${endpointId} left rotation before this attempt was written; moved to another endpoint`)
    this.endpointId = endpointId
  }
}
