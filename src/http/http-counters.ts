/**
 * The HTTP layer's counters for one dispatcher, written by its requests and read only through
 * `BalancedDispatcher#stats()`. Plain numbers: the request path only increments them.
 */
export class HttpCounters {
  /** Requests dispatched (first attempts). */
  requests = 0
  /** Attempts sent to an endpoint (first attempts, retries and hedges). */
  attempts = 0
  retries = 0
  /** Retries not made because the retry budget was spent. */
  retriesDenied = 0
  /** Requests that ended with an error (not counting responses with an error status). */
  failures = 0
  hedges = 0
  /** Requests answered by a hedge rather than by their first attempt. */
  hedgesWon = 0
  /** Hedges not sent because the retry budget was spent. */
  hedgesDenied = 0
  /** Attempts taken back before they were written (their endpoint left rotation) and sent elsewhere. */
  attemptsMoved = 0
}
