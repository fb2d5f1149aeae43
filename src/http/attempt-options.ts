import type { Dispatcher } from 'undici'

/**
 * What every attempt of a request dispatches to an endpoint's Pool: the request's own options
 * undici reads, and nothing else (a `servername` would change the TLS name, an `origin` the
 * target; `route` and `key` are ours), with `body` as given or wrapped once (request-body.ts).
 */
export function attemptOptions(opts: Dispatcher.DispatchOptions, body: unknown): Dispatcher.DispatchOptions {
  return {
    path: opts.path,
    method: normalizeMethod(opts.method),
    headers: opts.headers,
    body: body as Dispatcher.DispatchOptions['body'],
    query: opts.query,
    idempotent: opts.idempotent,
    blocking: opts.blocking,
    upgrade: opts.upgrade,
    headersTimeout: opts.headersTimeout,
    bodyTimeout: opts.bodyTimeout,
    reset: opts.reset,
    expectContinue: opts.expectContinue,
  } as Dispatcher.DispatchOptions
}

/** The method as the retry policy and routing see it: upper-case, GET when none is given. */
export function methodOf(method: unknown): string {
  return method === 'GET' ? method : method === undefined ? 'GET' : String(method).toUpperCase()
}

/**
 * The Fetch standard's method normalization: these six are sent upper-case however they were
 * written (a server answers `get` with 400); any other method goes as given, as fetch sends it.
 */
const NORMALIZED_METHODS: ReadonlyArray<string> = ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']

function normalizeMethod(method: unknown): Dispatcher.HttpMethod {
  if (method === 'GET' || typeof method !== 'string') return method as Dispatcher.HttpMethod
  const upper = method.toUpperCase()
  return (upper !== method && NORMALIZED_METHODS.includes(upper) ? upper : method) as Dispatcher.HttpMethod
}
