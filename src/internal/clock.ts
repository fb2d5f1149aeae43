import { performance } from 'node:perf_hooks'

/**
 * Time as the library sees it: injectable so unit tests drive every timer (DNS refresh, health
 * checks, ejection, slow start, retries) with a fake clock. Timers made by the system clock are
 * unref()'d, so an idle process can exit, unless the caller asks for `ref: true`.
 */
export interface Clock {
  now(): number
  setTimeout(callback: () => void, ms: number, options?: { ref?: boolean }): unknown
  clearTimeout(handle: unknown): void
}

/**
 * The longest delay setTimeout honours (2^31-1 ms, ~24.8 days). Node replaces a longer one, or
 * Infinity, with 1 ms, so a duration meant as "practically never" (a huge maxRefresh, ejection or
 * ready() timeout, or one doubled by backoff) would fire at once: the system clock caps delays at
 * it, and duration options are validated against it.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout(callback, ms, options) {
    const handle = setTimeout(callback, Math.min(ms, MAX_TIMER_MS))
    if (!options?.ref) handle.unref()
    return handle
  },
  clearTimeout(handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout>)
  },
}
