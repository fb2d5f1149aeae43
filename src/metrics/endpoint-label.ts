import type { Endpoint } from '../endpoint.js'
import { formatHostPort } from '../internal/format-host-port.js'

/** The `headless_lb.endpoint` attribute: the pod name when there is one, else `address:port`. */
export function endpointLabel(endpoint: Endpoint): string {
  return endpoint.name ?? formatHostPort(endpoint.address, endpoint.port)
}
