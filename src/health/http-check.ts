import { request } from 'node:http'
import type { Endpoint } from '../endpoint.js'

/**
 * One HTTP GET health check. Resolves true when the status is within `expectedStatus`; false on
 * another status. Rejects on a connection error, or when `signal` aborts (the checker's timeout).
 * No keep-alive: a check must prove that a new connection works, and leaves no socket behind.
 */
export function httpCheck(
  endpoint: Endpoint,
  options: { path: string; expectedStatus: readonly [number, number]; host: string | undefined },
  signal: AbortSignal,
): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: endpoint.address,
        family: endpoint.family,
        port: endpoint.port,
        path: options.path,
        method: 'GET',
        agent: false,
        headers: { host: options.host ?? endpoint.hostname ?? endpoint.address, 'user-agent': 'headless-lb' },
        signal,
      },
      (res) => {
        const status = res.statusCode ?? 0
        res.resume()
        res.on('error', () => {})
        resolve(status >= options.expectedStatus[0] && status <= options.expectedStatus[1])
        res.destroy()
      },
    )
    req.on('error', reject)
    req.end()
  })
}
