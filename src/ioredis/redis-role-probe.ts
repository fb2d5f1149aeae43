import type { Redis } from 'ioredis'

/**
 * `ROLE` on the endpoint's own client (Redis 2.8.12 and later): `master` is the primary, `slave`
 * a replica. The same connection the commands use, so the answer is about the server they reach.
 * A client still connecting is waited for, within the probe's timeout (the pool aborts `signal`):
 * a new endpoint's role is known as soon as it connects, not one interval later.
 */
export async function redisRole(
  client: Redis,
  signal: AbortSignal,
  send: (command: string) => Promise<unknown>,
): Promise<'primary' | 'replica'> {
  signal.throwIfAborted()
  if (client.status === 'end') throw new Error('the client is closed')
  // lazyConnect: the first probe is what connects it (a failure shows as an 'error' event).
  if (client.status === 'wait') client.connect().catch(() => {})
  if (client.status !== 'ready') await untilReady(client, signal)
  const reply = await abortable(send('ROLE'), signal)
  const role = Array.isArray(reply) ? String(reply[0]) : undefined
  if (role === 'master') return 'primary'
  if (role === 'slave') return 'replica'
  throw new Error(`unexpected answer to ROLE: ${String(role)}`)
}

function untilReady(client: Redis, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const settle = (): void => {
      client.off('ready', onReady)
      client.off('end', onEnd)
      signal.removeEventListener('abort', onAbort)
    }
    const onReady = (): void => {
      settle()
      resolve()
    }
    const onEnd = (): void => {
      settle()
      reject(new Error('the client is closed'))
    }
    const onAbort = (): void => {
      settle()
      reject(signal.reason)
    }
    client.on('ready', onReady)
    client.on('end', onEnd)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (error) => {
        signal.removeEventListener('abort', onAbort)
        reject(error)
      },
    )
  })
}
