import { schemePort } from '../internal/default-port.js'
import { invalidType } from '../options.js'

export interface ParsedOrigin {
  readonly protocol: 'http:' | 'https:'
  /** Lower-case host name, without brackets or a trailing dot. */
  readonly hostname: string
  readonly port: number
  /** `protocol//host[:port]`, as undici wants an origin. */
  readonly origin: string
}

/** Validates an `http(s)://host[:port]` origin (no path, query or credentials). */
export function parseOrigin(path: string, value: unknown): ParsedOrigin {
  let url: URL
  try {
    url = value instanceof URL ? value : new URL(String(value))
  } catch {
    throw invalidType(path, 'an http:// or https:// URL', value)
  }
  if (typeof value !== 'string' && !(value instanceof URL)) throw invalidType(path, 'a string or URL', value)
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalidType(path, 'an http:// or https:// URL', value)
  }
  if (
    (url.pathname !== '/' && url.pathname !== '') ||
    url.search ||
    url.hash ||
    url.username ||
    url.password
  ) {
    throw invalidType(
      path,
      'an origin without path, query, fragment or credentials',
      value,
      'Pass paths to request()',
    )
  }
  const protocol = url.protocol
  const port = url.port === '' ? schemePort(protocol) : Number(url.port)
  let hostname = url.hostname.toLowerCase()
  if (hostname.startsWith('[')) hostname = hostname.slice(1, -1)
  if (hostname.endsWith('.')) hostname = hostname.slice(0, -1)
  return { protocol, hostname, port, origin: url.origin }
}
