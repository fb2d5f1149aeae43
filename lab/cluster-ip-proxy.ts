/**
 * A ClusterIP VIP: a TCP proxy that, like kube-proxy, picks a backend once per *connection*
 * (round-robin over the ready endpoints) and then just moves bytes. Every request on a
 * keep-alive connection goes to the same pod: the imbalance headless-lb exists to fix, and the
 * baseline benchmarks and the demo compare against.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net'

export interface ProxyBackend {
  readonly host: string
  readonly port: number
}

export interface ClusterIpProxyOptions {
  readonly address: string
  readonly port: number
  /** The ready endpoints, asked on every new connection. */
  readonly backends: () => ReadonlyArray<ProxyBackend>
}

export class ClusterIpProxy {
  readonly address: string
  #port: number
  readonly #backends: () => ReadonlyArray<ProxyBackend>
  readonly #server: Server
  readonly #sockets = new Set<Socket>()
  #next = 0
  #connections = 0
  #closed = false

  constructor(options: ClusterIpProxyOptions) {
    this.address = options.address
    this.#port = options.port
    this.#backends = options.backends
    this.#server = createServer((client) => this.#accept(client))
  }

  get port(): number {
    return this.#port
  }

  /** Connections accepted so far. */
  get connections(): number {
    return this.#connections
  }

  async listen(): Promise<void> {
    this.#server.listen({ host: this.address, port: this.#port, exclusive: true })
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error): void => reject(error)
      this.#server.once('error', onError)
      this.#server.once('listening', () => {
        this.#server.off('error', onError)
        resolve()
      })
    })
    this.#port = (this.#server.address() as { port: number }).port
  }

  #track(socket: Socket): void {
    this.#sockets.add(socket)
    socket.once('close', () => this.#sockets.delete(socket))
  }

  #accept(client: Socket): void {
    this.#connections++
    this.#track(client)
    const backends = this.#backends()
    if (backends.length === 0) {
      // kube-proxy rejects connections to a service without endpoints; a reset is the closest.
      client.resetAndDestroy()
      return
    }
    const backend = backends[this.#next++ % backends.length]!
    const upstream = createConnection({ host: backend.host, port: backend.port })
    this.#track(upstream)
    client.setNoDelay(true)
    upstream.setNoDelay(true)
    // A backend that refuses or resets is seen by the client as a reset of its own connection.
    upstream.on('error', () => client.resetAndDestroy())
    client.on('error', () => upstream.destroy())
    client.pipe(upstream)
    upstream.pipe(client)
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()))
    for (const socket of this.#sockets) socket.destroy()
    this.#sockets.clear()
    await closed
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}
