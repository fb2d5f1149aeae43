/**
 * Where a port comes from when nobody wrote one, in one place: the factories (createClient,
 * HeadlessAgent and HeadlessHttpAgent per origin, the pg and ioredis routers, `headless-lb
 * check`) and the URL parsing all default it here, so they cannot drift apart.
 */

/** The port of an `http:` or `https:` URL that names none (RFC 9110 sections 4.2.1 and 4.2.2). */
export function schemePort(protocol: string): 80 | 443 {
  return protocol === 'https:' ? 443 : 80
}

/**
 * The port a pool gets: `port` when the options give one; none when they give `portName` (each
 * SRV record carries its port); else the factory's default (`fallback`: the origin's port for
 * the HTTP clients, 5432 for pg, 6379 for Redis).
 */
export function poolPort<P>(
  options: { readonly port?: P; readonly portName?: unknown },
  fallback: number,
): P | number | undefined {
  return namesPort(options) ? options.port : fallback
}

/** Whether the options say the port themselves (`port`, or `portName` for SRV), so no default applies. */
export function namesPort(options: { readonly port?: unknown; readonly portName?: unknown }): boolean {
  return options.port !== undefined || options.portName !== undefined
}
