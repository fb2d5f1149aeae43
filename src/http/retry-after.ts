/**
 * `Retry-After` (RFC 9110 section 10.2.3) in ms: delay-seconds or an HTTP-date, 0 when absent
 * or unreadable (a malformed header must not stall a request).
 */
export function parseRetryAfter(value: unknown, now: number): number {
  const text = Array.isArray(value) ? value[0] : value
  if (typeof text !== 'string' || text.length === 0) return 0
  if (/^\d+$/.test(text.trim())) return Number(text.trim()) * 1_000
  const date = Date.parse(text)
  return Number.isNaN(date) ? 0 : Math.max(0, date - now)
}
