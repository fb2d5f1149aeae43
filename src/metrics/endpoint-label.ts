import type { Endpoint } from '../endpoint.js'

/** The `headless_lb.endpoint` attribute: the pod name when there is one, else `address:port`. */
export function endpointLabel(endpoint: Endpoint): string {
  return (
    endpoint.name ??
    (endpoint.family === 6
      ? `[${endpoint.address}]:${endpoint.port}`
      : `${endpoint.address}:${endpoint.port}`)
  )
}
