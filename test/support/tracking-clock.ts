import { type Clock, systemClock } from '../../src/internal/clock.js'

/** The real clock, counting the timers it has running, so a test can check close() left none. */
export function trackingClock(): Clock & { live: Set<unknown> } {
  const live = new Set<unknown>()
  return {
    live,
    now: () => systemClock.now(),
    setTimeout(callback, ms) {
      const handle: unknown = systemClock.setTimeout(() => {
        live.delete(handle)
        callback()
      }, ms)
      live.add(handle)
      return handle
    },
    clearTimeout(handle) {
      live.delete(handle)
      systemClock.clearTimeout(handle)
    },
  }
}
