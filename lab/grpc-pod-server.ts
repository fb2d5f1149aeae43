/**
 * One gRPC pod's server: a real grpc-js Server (unary `lab.Echo/Echo`, answering with the pod's
 * name) behind a net.Server the lab owns, whose connections are handed to grpc-js with
 * `createConnectionInjector`. Owning the sockets lets the lab count them from the server's side,
 * so a test can prove that no connection to a pod was broken. Same shape as PodServer (start,
 * stop, counters, faults); `stop()` is a crash: the listener goes, open connections are destroyed.
 */
import { once } from 'node:events'
import { createServer, type Server, type Socket } from 'node:net'
import * as grpc from '@grpc/grpc-js'
import type { PodFault } from './api.js'
import { REQUEST_ID_HEADER } from './pod-server.js'

/** Raw-bytes serializers: the lab needs no .proto file. Requests are opaque; replies are JSON. */
const bytes = (b: Buffer): Buffer => b

/** The lab's one gRPC service: `/lab.Echo/Echo`, a unary call answered with `{ pod, ip, port }`. */
export const ECHO_SERVICE = {
  echo: {
    path: '/lab.Echo/Echo',
    requestStream: false,
    responseStream: false,
    requestSerialize: bytes,
    requestDeserialize: bytes,
    responseSerialize: bytes,
    responseDeserialize: bytes,
    originalName: 'echo',
  },
} satisfies grpc.ServiceDefinition

/** A client class for ECHO_SERVICE: `new EchoClient(target, credentials, options).echo(Buffer, cb)`. */
export const EchoClient = grpc.makeGenericClientConstructor(ECHO_SERVICE, 'Echo')
export type EchoClient = InstanceType<typeof EchoClient>

/** What an Echo reply says. */
export interface EchoReply {
  readonly pod: string
  readonly ip: string
  readonly port: number
}

/** One unary Echo call, as a promise. */
export function echo(client: EchoClient, options: grpc.CallOptions = {}): Promise<EchoReply> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      ECHO_SERVICE.echo.path,
      bytes,
      bytes,
      Buffer.alloc(0),
      new grpc.Metadata(),
      options,
      (error: grpc.ServiceError | null, reply?: Buffer) => {
        if (error) reject(error)
        else resolve(JSON.parse(reply!.toString('utf8')) as EchoReply)
      },
    )
  })
}

export class GrpcPodServer {
  readonly name: string
  #listener: Server | undefined
  #grpc: grpc.Server | undefined
  #injector: ReturnType<grpc.Server['createConnectionInjector']> | undefined
  readonly #sockets = new Set<Socket>()
  #fault: PodFault = { kind: 'none' }
  #errorTicks = 0
  #total = 0
  #byMethod: Record<string, number> = {}
  #requestIds = new Map<string, number>()
  #opened = 0
  #closed = 0
  #inFlight = 0
  #ip = ''
  #port = 0

  constructor(options: { readonly name: string }) {
    this.name = options.name
  }

  get listening(): boolean {
    return this.#listener !== undefined
  }

  /** Calls received (counted when they arrive), by method path. */
  get requests(): { readonly total: number; readonly byMethod: Readonly<Record<string, number>> } {
    return { total: this.#total, byMethod: { ...this.#byMethod } }
  }

  /** How many times each `x-request-id` metadata value arrived (as PodServer counts the header). */
  get requestIds(): ReadonlyMap<string, number> {
    return this.#requestIds
  }

  /** gRPC pods have no HTTP health endpoint. */
  get healthChecks(): number {
    return 0
  }

  /** TCP connections accepted and closed (by either side) since the last resetCounters(); open now. */
  get connections(): { readonly opened: number; readonly closed: number; readonly open: number } {
    return { opened: this.#opened, closed: this.#closed, open: this.#sockets.size }
  }

  /** Calls being served now. */
  get inFlight(): number {
    return this.#inFlight
  }

  fault(fault: PodFault): void {
    if (fault.kind === 'slow' && !(Number.isFinite(fault.latencyMs) && fault.latencyMs >= 0)) {
      throw new RangeError(`fault.latencyMs must be a non-negative number, got ${fault.latencyMs}`)
    }
    if (fault.kind === 'errors' && !(fault.ratio >= 0 && fault.ratio <= 1)) {
      throw new RangeError(`fault.ratio must be between 0 and 1, got ${fault.ratio}`)
    }
    this.#fault = fault
    this.#errorTicks = 0
  }

  resetCounters(): void {
    this.#total = 0
    this.#byMethod = {}
    this.#requestIds = new Map()
    this.#opened = 0
    this.#closed = 0
  }

  /** Listens on ip:port (port 0: any); resolves with the port. Rejects with EADDRINUSE etc. */
  async start(ip: string, port: number): Promise<number> {
    if (this.#listener) throw new Error(`pod ${this.name} is already running`)
    const server = new grpc.Server()
    server.addService(ECHO_SERVICE, {
      echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) =>
        this.#handle(call, callback),
    })
    const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure())
    const listener = createServer((socket) => {
      this.#opened++
      this.#sockets.add(socket)
      socket.once('close', () => {
        this.#closed++
        this.#sockets.delete(socket)
      })
      // A reset from a client that went away must not crash the lab.
      socket.on('error', () => socket.destroy())
      injector.injectConnection(socket)
    })
    listener.listen({ host: ip, port, exclusive: true })
    try {
      await new Promise<void>((resolve, reject) => {
        listener.once('error', reject)
        listener.once('listening', () => {
          listener.off('error', reject)
          resolve()
        })
      })
    } catch (error) {
      injector.destroy()
      server.forceShutdown()
      throw error
    }
    this.#listener = listener
    this.#grpc = server
    this.#injector = injector
    this.#ip = ip
    this.#port = (listener.address() as { port: number }).port
    return this.#port
  }

  /** Closes the listener and destroys every open connection: new connects are refused. */
  async stop(): Promise<void> {
    const listener = this.#listener
    if (!listener) return
    this.#listener = undefined
    const closed = once(listener, 'close')
    listener.close()
    for (const socket of this.#sockets) socket.destroy()
    this.#injector?.destroy()
    this.#grpc?.forceShutdown()
    this.#injector = undefined
    this.#grpc = undefined
    await closed
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop()
  }

  #handle(call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>): void {
    this.#total++
    const method = call.getPath()
    this.#byMethod[method] = (this.#byMethod[method] ?? 0) + 1
    const id = call.metadata.get(REQUEST_ID_HEADER)[0]
    if (typeof id === 'string') this.#requestIds.set(id, (this.#requestIds.get(id) ?? 0) + 1)
    const fault = this.#fault
    // A hung pod takes the call and never answers (the client's deadline ends it).
    if (fault.kind === 'hang') return
    this.#inFlight++
    const respond = (): void => {
      this.#inFlight--
      if (fault.kind === 'errors') {
        // Exactly `ratio` of calls fail, spread evenly (as PodServer's 5xx).
        const before = Math.floor(this.#errorTicks * fault.ratio)
        this.#errorTicks++
        if (Math.floor(this.#errorTicks * fault.ratio) > before) {
          callback({ code: grpc.status.UNAVAILABLE, details: `pod ${this.name}: injected error` })
          return
        }
      }
      const reply = { pod: this.name, ip: this.#ip, port: this.#port } satisfies EchoReply
      callback(null, Buffer.from(JSON.stringify(reply)))
    }
    if (fault.kind === 'slow' && fault.latencyMs > 0) setTimeout(respond, fault.latencyMs).unref()
    else respond()
  }
}
