import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'

export type Behaviour = (req: IncomingMessage, res: ServerResponse, server: TestServer) => void

/** A real node:http server on its own 127.0.0.x address, counting requests and open sockets. */
export class TestServer {
  readonly name: string
  readonly address: string
  port = 0
  readonly server: Server
  readonly sockets = new Set<Socket>()
  readonly requests: Array<{ method: string; url: string; host: string | undefined }> = []
  behaviour: Behaviour

  constructor(name: string, address: string, behaviour?: Behaviour) {
    this.name = name
    this.address = address
    this.behaviour = behaviour ?? ok
    this.server = createServer((req, res) => {
      this.requests.push({ method: req.method ?? '', url: req.url ?? '', host: req.headers.host })
      this.behaviour(req, res, this)
    })
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket)
      socket.on('close', () => this.sockets.delete(socket))
    })
  }

  async listen(port = 0): Promise<this> {
    this.server.listen(port, this.address)
    await once(this.server, 'listening')
    this.port = (this.server.address() as { port: number }).port
    return this
  }

  count(method?: string): number {
    return method === undefined
      ? this.requests.length
      : this.requests.filter((r) => r.method === method).length
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy()
    if (this.server.listening) await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }
}

export const ok: Behaviour = (req, res, server) => {
  req.resume()
  req.on('end', () => {
    res.setHeader('x-pod', server.name)
    res.end(server.name)
  })
}
