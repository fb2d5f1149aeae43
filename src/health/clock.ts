/**
 * Time as the pool sees it: a monotonic `now()` in milliseconds and timers. Injectable so unit
 * tests drive ejections, probation and probes without waiting. Every timer the real clock makes
 * is `unref()`'d: a pool must never keep a process alive.
 */
export interface Clock {
  now(): number
  setTimeout(callback: () => void, ms: number): ClockTimer
  clearTimeout(timer: ClockTimer): void
}

/** Opaque timer handle. */
export type ClockTimer = unknown

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout(callback, ms) {
    const timer = setTimeout(callback, ms)
    timer.unref()
    return timer
  },
  clearTimeout(timer) {
    clearTimeout(timer as ReturnType<typeof setTimeout>)
  },
}
