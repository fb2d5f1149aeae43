import type { FailureKind } from '../lease.js'

/**
 * Maps an error of one attempt to the pool's FailureKind, from the stable `code` undici and
 * Node put on errors. An unreachable host or network counts as `connect-refused`: like a
 * refused connect, it says the pod's address is gone, so the pool may eject it at once.
 */
export function classifyFailure(error: unknown): FailureKind {
  const code = (error as { code?: unknown } | null)?.code
  switch (code) {
    case 'ECONNREFUSED':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EHOSTDOWN':
    case 'EADDRNOTAVAIL':
      return 'connect-refused'
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'ETIMEDOUT':
      return 'connect-timeout'
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return 'timeout'
    case 'ECONNRESET':
    case 'EPIPE':
    case 'ECONNABORTED':
    case 'UND_ERR_SOCKET':
      return 'reset'
    default:
      return 'other'
  }
}
