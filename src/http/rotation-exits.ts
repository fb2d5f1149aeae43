import type { Endpoint } from '../endpoint.js'
import type { HealthEvent, StallEvent } from '../pool.js'
import type { LeasePool } from './lease-pool.js'

/**
 * Calls `onLeave` each time the pool takes an endpoint out of rotation: ejected by outlier
 * detection or unhealthy by its active checks (`out`), or stalled (it sits on requests far longer
 * than its peers take). Removal from discovery is not one of these: the endpoint set's change handles it.
 * Returns a function that stops listening.
 */
export function watchRotationExits(
  pool: LeasePool,
  onLeave: (endpoint: Endpoint, how: 'stalled' | 'out') => void,
): () => void {
  const onHealth = (event: HealthEvent): void => {
    if (event.state !== event.previous && (event.state === 'ejected' || event.state === 'unhealthy')) {
      onLeave(event.endpoint, 'out')
    }
  }
  const onStall = (event: StallEvent): void => {
    if (event.stalled) onLeave(event.endpoint, 'stalled')
  }
  pool.on('health', onHealth)
  pool.on('stall', onStall)
  return () => {
    pool.off('health', onHealth)
    pool.off('stall', onStall)
  }
}
