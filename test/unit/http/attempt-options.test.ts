import type { Dispatcher } from 'undici'
import { describe, expect, it } from 'vitest'
import { attemptOptions } from '../../../src/http/attempt-options.js'

describe('attemptOptions', () => {
  it("passes the caller's options through when undici would read the same request from a copy", () => {
    const opts = {
      origin: 'http://web:8080',
      path: '/x',
      method: 'GET',
      headers: { a: '1' },
      route: 'primary',
    }
    expect(attemptOptions(opts as Dispatcher.DispatchOptions, undefined)).toBe(opts)
    const post = { path: '/x', method: 'POST', body: 'hello' } as Dispatcher.DispatchOptions
    expect(attemptOptions(post, 'hello')).toBe(post)
    const custom = { path: '/x', method: 'PURGE' } as unknown as Dispatcher.DispatchOptions
    expect(attemptOptions(custom, undefined)).toBe(custom)
  })

  it.each([
    ['a servername (it would change the TLS name)', { servername: 'other' }],
    ['maxRedirections (undici refuses it; redirects are an interceptor)', { maxRedirections: 3 }],
    ['throwOnError', { throwOnError: true }],
    ['typeOfService', { typeOfService: 4 }],
  ])('copies, without it, options with %s', (_what, extra) => {
    const opts = { path: '/x', method: 'GET', ...extra } as unknown as Dispatcher.DispatchOptions
    const copy = attemptOptions(opts, undefined) as unknown as Record<string, unknown>
    expect(copy).not.toBe(opts)
    for (const key of Object.keys(extra)) expect(copy[key]).toBeUndefined()
    expect(copy.path).toBe('/x')
    expect(copy.method).toBe('GET')
  })

  it('copies with the method normalised (get -> GET) and with a wrapped body', () => {
    const lower = { path: '/x', method: 'get' } as unknown as Dispatcher.DispatchOptions
    expect(attemptOptions(lower, undefined)).toMatchObject({ method: 'GET', path: '/x' })
    expect(attemptOptions(lower, undefined)).not.toBe(lower)
    const wrapped = { once: true }
    const streamed = {
      path: '/x',
      method: 'PUT',
      body: [Buffer.from('a')],
    } as unknown as Dispatcher.DispatchOptions
    const copy = attemptOptions(streamed, wrapped)
    expect(copy).not.toBe(streamed)
    expect(copy.body).toBe(wrapped)
  })
})
