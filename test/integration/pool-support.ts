// Shared by the pool and health lab tests: wait for pool events with a deadline (never a fixed sleep).
import { request } from 'node:http'
import type { PickOptions } from '../../src/lease.js'
import type { Pool } from '../../src/pool.js'
import { nextEvent } from '../support/next-event.js'

type PoolEventName = 'health' | 'eject' | 'panic' | 'primary' | 'change'

/** Resolves with the first `event` whose payload satisfies `accept`, or rejects after `deadlineMs`. */
export function nextPoolEvent<T>(
  pool: Pool,
  event: PoolEventName,
  accept: (payload: T) => boolean = () => true,
  deadlineMs = 15_000,
): Promise<T> {
  return nextEvent<T>(
    pool,
    event,
    accept,
    deadlineMs,
    () => `stats: ${JSON.stringify(pool.stats().endpoints.map((e) => [e.endpoint.name, e.state]))}`,
  )
}

/** The names `n` picks return. */
export function picks(pool: Pool, n: number): string[] {
  return Array.from({ length: n }, () => pool.pick().name ?? '?')
}

/**
 * One real HTTP GET through a lease, released with what happened: what the HTTP layer does for
 * every request, by hand. Resolves with the pod that answered, or the failure kind.
 */
export async function leasedGet(
  pool: Pool,
  options: PickOptions = {},
): Promise<{ pod: string; outcome: string }> {
  const lease = pool.acquire(options)
  const pod = lease.endpoint.name ?? lease.endpoint.address
  const started = performance.now()
  try {
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        { host: lease.endpoint.address, port: lease.endpoint.port, path: '/', agent: false, timeout: 2_000 },
        (res) => {
          res.resume()
          res.on('end', () => resolve(res.statusCode ?? 0))
          res.on('error', reject)
        },
      )
      req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })))
      req.on('error', reject)
      req.end()
    })
    const latency = performance.now() - started
    if (status >= 500) {
      lease.release({ ok: false, kind: 'status', latency })
      return { pod, outcome: `status ${status}` }
    }
    lease.release({ ok: true, latency })
    return { pod, outcome: 'ok' }
  } catch (error) {
    const code = (error as { code?: string }).code
    const kind = code === 'ECONNREFUSED' ? 'connect-refused' : code === 'ETIMEDOUT' ? 'timeout' : 'other'
    lease.release({ ok: false, kind, error, latency: performance.now() - started })
    return { pod, outcome: kind }
  }
}
