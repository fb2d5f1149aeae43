/**
 * `127.0.10.2:8080`, or `[fd00::2]:8080` for an IPv6 address: the form of a URL's host, a Host
 * header and an address-only endpoint id. An IPv4 address or a host name never has a ':'.
 */
export function formatHostPort(address: string, port: number | string): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`
}
