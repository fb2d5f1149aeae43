/**
 * One pod's HTTP server: a real node:http server on the pod's address that says which pod
 * answered (header `x-pod`, JSON body), counts requests by method when their head arrives, and
 * misbehaves on demand (slow, a share of 5xx, hang). `stop()` is what a crashed container looks
 * like from outside: the listener goes away and open connections are destroyed.
 */
import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { PodFault } from './api.js'

export interface PodServerOptions {
  readonly name: string
}

/** The path health checkers probe; not counted in `requests` (see `healthChecks`). */
export const HEALTH_PATH = '/healthz'

/**
 * The header whose value a pod records per request (`requestIds`): give every POST a unique id
 * and the pods' records prove whether any reached a pod twice, on one pod or across pods.
 */
export const REQUEST_ID_HEADER = 'x-request-id'

export class PodServer {
  readonly name: string
  #server: Server | undefined
  readonly #sockets = new Set<Socket>()
  #fault: PodFault = { kind: 'none' }
  /** Responses given under the current `errors` fault, for an exact share rather than a random one. */
  #errorTicks = 0
  #total = 0
  #byMethod: Record<string, number> = {}
  #healthChecks = 0
  #opened = 0
  #closed = 0
  #inFlight = 0
  #requestIds = new Map<string, number>()
  #ip = ''
  #port = 0

  constructor(options: PodServerOptions) {
    this.name = options.name
  }

  get listening(): boolean {
    return this.#server !== undefined
  }

  get requests(): { readonly total: number; readonly byMethod: Readonly<Record<string, number>> } {
    return { total: this.#total, byMethod: { ...this.#byMethod } }
  }

  get healthChecks(): number {
    return this.#healthChecks
  }

  /** TCP connections accepted and closed (by either side) since the last resetCounters(); open now. */
  get connections(): { readonly opened: number; readonly closed: number; readonly open: number } {
    return { opened: this.#opened, closed: this.#closed, open: this.#sockets.size }
  }

  /** Requests whose response has not finished yet. */
  get inFlight(): number {
    return this.#inFlight
  }

  /** How many times each `x-request-id` arrived (the live map: read it, do not keep it across resetCounters). */
  get requestIds(): ReadonlyMap<string, number> {
    return this.#requestIds
  }

  get currentFault(): PodFault {
    return this.#fault
  }

  fault(fault: PodFault): void {
    if (fault.kind === 'slow' && !(Number.isFinite(fault.latencyMs) && fault.latencyMs >= 0)) {
      throw new RangeError(`fault.latencyMs must be a non-negative number, got ${fault.latencyMs}`)
    }
    if (fault.kind === 'errors') {
      if (!(fault.ratio >= 0 && fault.ratio <= 1)) {
        throw new RangeError(`fault.ratio must be between 0 and 1, got ${fault.ratio}`)
      }
      if (
        fault.status !== undefined &&
        !(Number.isInteger(fault.status) && fault.status >= 500 && fault.status <= 599)
      ) {
        throw new RangeError(`fault.status must be a 5xx status, got ${fault.status}`)
      }
    }
    this.#fault = fault
    this.#errorTicks = 0
  }

  resetCounters(): void {
    this.#total = 0
    this.#byMethod = {}
    this.#healthChecks = 0
    this.#opened = 0
    this.#closed = 0
    this.#requestIds = new Map()
  }

  /** Listens on ip:port (port 0: any); resolves with the port. Rejects with EADDRINUSE etc. */
  async start(ip: string, port: number): Promise<number> {
    if (this.#server) throw new Error(`pod ${this.name} is already running`)
    // requestTimeout 0: a hanging pod must hang for as long as the test wants, not answer 408 after 300 s.
    const server = createServer({ keepAlive: true, requestTimeout: 0 }, (req, res) => this.#handle(req, res))
    server.on('connection', (socket: Socket) => {
      this.#opened++
      this.#sockets.add(socket)
      socket.once('close', () => {
        this.#closed++
        this.#sockets.delete(socket)
      })
    })
    // A client that sends garbage must not crash the lab.
    server.on('clientError', (_error, socket) => socket.destroy())
    server.listen({ host: ip, port, exclusive: true })
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error): void => {
        server.off('listening', onListening)
        reject(error)
      }
      const onListening = (): void => {
        server.off('error', onError)
        resolve()
      }
      server.once('error', onError)
      server.once('listening', onListening)
    })
    this.#server = server
    this.#ip = ip
    this.#port = (server.address() as { port: number }).port
    return this.#port
  }

  /** Closes the listener and destroys every open connection: new connects are refused. */
  async stop(): Promise<void> {
    const server = this.#server
    if (!server) return
    this.#server = undefined
    const closed = once(server, 'close')
    server.close()
    for (const socket of this.#sockets) socket.destroy()
    this.#sockets.clear()
    await closed
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop()
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const isHealth = req.url === HEALTH_PATH || req.url?.startsWith(`${HEALTH_PATH}?`) === true
    if (isHealth) this.#healthChecks++
    else {
      this.#total++
      const method = req.method ?? 'UNKNOWN'
      this.#byMethod[method] = (this.#byMethod[method] ?? 0) + 1
      const id = req.headers[REQUEST_ID_HEADER]
      if (typeof id === 'string') this.#requestIds.set(id, (this.#requestIds.get(id) ?? 0) + 1)
    }
    this.#inFlight++
    res.once('close', () => this.#inFlight--)
    const fault = this.#fault
    if (fault.kind === 'hang') {
      // Read the request (so the client's write completes) and never answer.
      req.resume()
      return
    }
    let bodyBytes = 0
    req.on('data', (chunk: Buffer) => (bodyBytes += chunk.length))
    req.once('end', () => {
      const respond = (): void => this.#respond(req, res, fault, bodyBytes, isHealth)
      if (fault.kind === 'slow' && fault.latencyMs > 0) {
        setTimeout(respond, fault.latencyMs).unref()
      } else respond()
    })
  }

  #respond(
    req: IncomingMessage,
    res: ServerResponse,
    fault: PodFault,
    bodyBytes: number,
    isHealth: boolean,
  ): void {
    if (res.destroyed || res.writableEnded) return
    let status = 200
    if (fault.kind === 'errors') {
      // Exactly `ratio` of responses fail, spread evenly: response n fails when the running
      // total floor(n * ratio) steps up. Deterministic, so tests can count.
      const before = Math.floor(this.#errorTicks * fault.ratio)
      this.#errorTicks++
      if (Math.floor(this.#errorTicks * fault.ratio) > before) status = fault.status ?? 503
    }
    const body = JSON.stringify({
      pod: this.name,
      ip: this.#ip,
      port: this.#port,
      method: req.method,
      url: req.url,
      host: req.headers.host ?? null,
      bodyBytes,
      status,
      ...(isHealth ? { health: status === 200 ? 'ok' : 'failing' } : {}),
    })
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      'x-pod': this.name,
      'x-pod-ip': this.#ip,
    })
    res.end(body)
  }
}
