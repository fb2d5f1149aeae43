import type { ReadyOptions } from '../discovery/endpoint-source.js'
import { NoPrimaryError } from '../errors.js'
import type { Pool, PrimaryEvent } from '../pool.js'

/**
 * Resolves once discovery has answered and the pool knows a primary, so the first write after
 * `await router.ready()` does not fail with NoPrimaryError while the first probe round is still
 * out. Rejects with ResolutionError (discovery) or NoPrimaryError after `timeout` (default: the
 * pool's `readyTimeout`), or with the signal's reason on abort.
 */
export async function waitForPrimary(pool: Pool, options: ReadyOptions = {}, fallback = 10_000): Promise<void> {
  const started = performance.now()
  await pool.ready(options)
  if (pool.primary !== undefined) return
  const timeout = Math.max(0, (options.timeout ?? fallback) - (performance.now() - started))
  const signal = options.signal
  await new Promise<void>((resolve, reject) => {
    const settle = (): void => {
      clearTimeout(timer)
      pool.off('primary', onPrimary)
      signal?.removeEventListener('abort', onAbort)
    }
    const onPrimary = (event: PrimaryEvent): void => {
      if (event.primary === undefined) return
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
        new NoPrimaryError(pool.service, `none known within ${options.timeout ?? fallback} ms of ready()${why}`, {
          endpoints: pool.endpoints,
          cause,
        }),
      )
    }, timeout)
    if (signal?.aborted) {
      onAbort()
      return
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    pool.on('primary', onPrimary)
  })
}
