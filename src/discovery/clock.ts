/**
 * Time as discovery sees it: injectable so unit tests drive refresh timing with a fake clock.
 * Timers made by the system clock are unref()'d, so an idle process can exit, unless the
 * caller asks for `ref: true`.
 */
export interface Clock {
  now(): number
  setTimeout(callback: () => void, ms: number, options?: { ref?: boolean }): unknown
  clearTimeout(handle: unknown): void
}

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout(callback, ms, options) {
    const handle = setTimeout(callback, ms)
    if (!options?.ref) handle.unref()
    return handle
  },
  clearTimeout(handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout>)
  },
}
