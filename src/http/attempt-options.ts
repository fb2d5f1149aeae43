import type { Dispatcher } from 'undici'

/**
 * What every attempt of a request dispatches to an endpoint's Pool: the request's own options
 * undici reads, and nothing else (a `servername` would change the TLS name; `route` and `key` are
 * ours), with `body` as given or wrapped once (request-body.ts).
 *
 * The caller's own object when nothing in it needs changing: undici's Pool reads only the fields
 * copied below (its Client takes the origin from the Pool, not from `origin`, and ignores keys it
 * does not know), so the copy would be the same request. That is the usual case (fetch, request(),
 * a plain dispatch), and it saves an object of a dozen fields per request (bench/http-overhead.ts).
 */
export function attemptOptions(opts: Dispatcher.DispatchOptions, body: unknown): Dispatcher.DispatchOptions {
  const o = opts as Dispatcher.DispatchOptions & Record<string, unknown>
  const method = normalizeMethod(opts.method)
  if (
    body === opts.body &&
    o.servername === undefined &&
    o.maxRedirections === undefined &&
    o.throwOnError === undefined &&
    o.typeOfService === undefined &&
    method === opts.method
  ) {
    return opts
  }
  return {
    path: opts.path,
    method,
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
