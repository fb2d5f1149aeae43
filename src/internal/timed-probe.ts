import type { Clock } from './clock.js'

/**
 * Runs one probe (a health check, a primary probe) against a deadline on `clock`. `probe` gets
 * `controller`'s signal; the result settles as the probe does, or rejects with the signal's
 * reason once `controller` aborts, whether the deadline aborted it (with
 * `new Error(timeoutMessage)`) or the caller did (an endpoint removed, the pool closed), even when
 * the probe ignores its signal. A probe that throws rejects too. The deadline timer and the abort
 * listener are gone once the result settles.
 *
 * The caller makes the controller, so that it can abort a probe in flight itself. A probe that
 * had already finished when the abort came wins: the abort takes a promise reaction to arrive,
 * as the probe's answer does, and the answer was queued first.
 */
export function timedProbe<T>(
  clock: Clock,
  timeout: number,
  timeoutMessage: string,
  controller: AbortController,
  probe: (signal: AbortSignal) => T | Promise<T>,
): Promise<T> {
  const signal = controller.signal
  if (signal.aborted) return Promise.reject(signal.reason)
  const timer = clock.setTimeout(() => controller.abort(new Error(timeoutMessage)), timeout)
  let onAbort: () => void = () => {}
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
  })
  let running: T | Promise<T>
  try {
    running = probe(signal)
  } catch (error) {
    running = Promise.reject(error)
  }
  const done = (): void => {
    clock.clearTimeout(timer)
    signal.removeEventListener('abort', onAbort)
  }
  return Promise.race([running, aborted]).then(
    (value) => {
      done()
      return value
    },
    (error: unknown) => {
      done()
      throw error
    },
  )
}
