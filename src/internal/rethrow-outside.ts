/**
 * An exception from a listener the result reached (a `health` handler): the caller's bug, raised
 * as an uncaught exception, as an emitter driven by I/O raises it, not as an unhandled rejection
 * of a promise nobody holds.
 */
export function rethrowOutside(error: unknown): void {
  process.nextTick(() => {
    throw error
  })
}
