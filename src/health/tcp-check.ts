import { connect } from 'node:net'
import type { Endpoint } from '../endpoint.js'

/** One TCP connect check: resolves true once a connection opens (then closes it); rejects otherwise. */
export function tcpCheck(endpoint: Endpoint, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: endpoint.address, port: endpoint.port, family: endpoint.family, signal })
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', (error) => {
      socket.destroy()
      reject(error)
    })
  })
}
