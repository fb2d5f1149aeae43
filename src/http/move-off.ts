import type { Lease, PickOptions } from '../lease.js'
import type { AttemptHandler } from './attempt-handler.js'
import { AttemptMovedError } from './attempt-moved-error.js'
import type { RequestContext } from './request-context.js'

/** The request whose attempts may move (BalancedRequest), as moving sees it. */
export interface MoveOwner {
  /** Answered, ended or aborted: nothing to move. */
  readonly settled: boolean
  readonly current: AttemptHandler | null
  /** Every attempt of a hedge race (null when none runs). */
  readonly racing: ReadonlyArray<AttemptHandler> | null
  readonly pick: PickOptions
  triedIds(into: string[]): void
  /** Sends `attempt` again, to `lease`'s endpoint, under its own number. */
  resend(attempt: AttemptHandler, lease: Lease): void
}

/**
 * `endpointId` left rotation and its connections are being retired: each attempt of the request
 * still waiting there for a connection (undici never called onRequestStart, so nothing was
 * written, whatever the method) goes to another endpoint now, rather than waiting out connects to
 * a pod that may be black-holed. A move is not a retry: like gRPC's transparent retry of a request
 * that never left the client, it keeps the attempt's number and counts neither against
 * `retry.retries` nor the budget; the attempt taken back ends `cancelled` (`attempt-end` with an
 * AttemptMovedError). With no other endpoint, it goes to the same one (a fresh connection pool
 * there). Returns false if an attempt had to stay where it was.
 */
export function moveOff(owner: MoveOwner, ctx: RequestContext, endpointId: string): boolean {
  if (owner.settled) return true
  const racing = owner.racing
  if (racing === null) {
    const attempt = owner.current
    return attempt === null || !queuedOn(attempt, endpointId) || move(owner, ctx, attempt, racing)
  }
  let movedAll = true
  for (const attempt of [...racing]) {
    if (queuedOn(attempt, endpointId) && !move(owner, ctx, attempt, racing)) movedAll = false
  }
  return movedAll
}

function move(
  owner: MoveOwner,
  ctx: RequestContext,
  attempt: AttemptHandler,
  racing: ReadonlyArray<AttemptHandler> | null,
): boolean {
  if (ctx.connections.closed) return false
  const tried: string[] = []
  owner.triedIds(tried)
  for (const a of racing ?? []) if (a !== attempt && !a.settled) tried.push(a.endpoint.id)
  let lease: Lease
  try {
    lease = ctx.pool.acquire({ ...owner.pick, exclude: [...tried, attempt.endpoint.id] })
  } catch {
    try {
      lease = ctx.pool.acquire({ ...owner.pick, exclude: tried })
    } catch {
      return false
    }
  }
  attempt.detach(new AttemptMovedError(attempt.endpoint.id))
  ctx.counters.attemptsMoved++
  owner.resend(attempt, lease)
  return true
}

/** The attempt waits for a connection to `endpointId`: dispatched there, not written, not over. */
function queuedOn(attempt: AttemptHandler, endpointId: string): boolean {
  return attempt.endpoint.id === endpointId && !attempt.started && !attempt.settled && !attempt.detached
}
