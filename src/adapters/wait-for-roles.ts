import type { ReadyOptions } from '../discovery/endpoint-source.js'
import { NoPrimaryError } from '../errors.js'
import type { Pool } from '../pool.js'
import type { ProbeTracker } from './probe-tracker.js'

/**
 * Resolves once discovery has answered, the pool knows a primary and (under a probe) every
 * endpoint has been probed once, so that neither the first write nor the first replica read after
 * `await router.ready()` fails while the first probe round is still out. Rejects with
 * ResolutionError (discovery) or NoPrimaryError after `timeout` (default: the discovery
 * `readyTimeout`, 10 s), or with the signal's reason on abort.
 */
export async function waitForRoles(
  pool: Pool,
  tracker: ProbeTracker | undefined,
  options: ReadyOptions = {},
  fallback = 10_000,
): Promise<void> {
  const started = performance.now()
  await pool.ready(options)
  const done = (): boolean =>
    pool.primary !== undefined &&
    (tracker === undefined || tracker.probedAll(pool.endpoints.map((e) => e.id)))
  if (done()) return
  const timeout = Math.max(0, (options.timeout ?? fallback) - (performance.now() - started))
  const signal = options.signal
  await new Promise<void>((resolve, reject) => {
    const settle = (): void => {
      clearTimeout(timer)
      pool.off('primary', check)
      stopTracking?.()
      signal?.removeEventListener('abort', onAbort)
    }
    const check = (): void => {
      if (!done()) return
      settle()
      resolve()
    }
    const onAbort = (): void => {
      settle()
      reject(signal!.reason)
    }
    // Ref'd on purpose, as discovery's ready() timer is: someone awaits this answer, so the
    // process must live to give it. Bounded by `timeout`, cleared when settled.
    const timer = setTimeout(() => {
      settle()
      let cause: unknown
      try {
        pool.pick({ role: 'primary' })
      } catch (error) {
        cause = error
      }
      const why = cause instanceof Error ? `: ${cause.message}` : ''
      reject(
        new NoPrimaryError(
          pool.service,
          `none known within ${options.timeout ?? fallback} ms of ready()${why}`,
          {
            endpoints: pool.endpoints,
            cause,
          },
        ),
      )
    }, timeout)
    if (signal?.aborted) {
      onAbort()
      return
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    pool.on('primary', check)
    const stopTracking = tracker?.onSettled(check)
  })
}
