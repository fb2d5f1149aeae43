// Waiting for an event with a deadline, never a fixed sleep: the one helper behind the
// integration tests' nextChange, nextError, nextPoolEvent and nextUpdate.

/** Anything with on/off for one event: a Node EventEmitter, a pool, a source, a resolver registration. */
export interface Listenable<T> {
  on(event: string, listener: (value: T) => void): unknown
  off(event: string, listener: (value: T) => void): unknown
}

/**
 * The next `event` on `emitter` whose value satisfies `accept`, or a rejection naming the event
 * after `ms`, with `context()` appended (the state that explains why it never came).
 */
export function nextEvent<T>(
  emitter: Listenable<T> | NodeJS.EventEmitter,
  event: string,
  accept: (value: T) => boolean = () => true,
  ms = 10_000,
  context?: () => string,
): Promise<T> {
  const target = emitter as Listenable<T>
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      target.off(event, listener)
      const why = context === undefined ? '' : `; ${context()}`
      reject(new Error(`no matching ${event} event within ${ms} ms${why}`))
    }, ms)
    const listener = (value: T): void => {
      if (!accept(value)) return
      clearTimeout(timer)
      target.off(event, listener)
      resolve(value)
    }
    target.on(event, listener)
  })
}
