import http from 'node:http'
import https from 'node:https'
import type { Socket } from 'node:net'
import { TLSSocket } from 'node:tls'

/** Called when a new connection to a pod failed before the request got it: nothing was sent. */
export type ConnectFailureHandler = (req: http.ClientRequest, error: Error) => boolean

export interface PodSocketOptions {
  /** Sockets per pod (Node's `maxSockets`, per `host:port`): the HTTP option `connections`. */
  readonly maxSockets: number
  /** Idle time of a kept-alive socket, ms (`keepAliveTimeout`). */
  readonly keepAliveTimeout: number
  /** TCP connect (and TLS handshake) deadline, ms (`timeouts.connect`). */
  readonly connectTimeout: number
  /**
   * The connect failed (refused, timed out...): return true when the caller took the request
   * elsewhere, false to let the request fail with `error`.
   */
  readonly onConnectFailure: ConnectFailureHandler
}

type SocketCallback = (error: Error | null, socket?: Socket) => void

/** Node's Agent internals this file builds on (stable since Node 12; agent-base overrides the same). */
interface AgentInternals {
  createSocket(req: http.ClientRequest, options: Record<string, unknown>, cb: SocketCallback): void
  keepSocketAlive(socket: Socket): boolean
  reuseSocket(socket: Socket, req: http.ClientRequest): void
  readonly freeSockets: NodeJS.ReadOnlyDict<Socket[]>
}

const base = http.Agent.prototype as unknown as AgentInternals

/**
 * The socket side of one balanced service: a Node Agent whose sockets are keyed by pod
 * (`address:port`, since the router hands it requests with the pod's address as `host`), so
 * Node's own keep-alive pooling is per pod. What it adds to Node's Agent:
 * - a new socket is given to its request only once connected (TLS: after the handshake), so a
 *   refused or timed-out connect has sent nothing and `onConnectFailure` may take the request
 *   to another pod; Node counts the connecting socket in `maxSockets` all along;
 * - `retire(address, port)` for a pod that left: its idle sockets close now, busy ones after
 *   their response (they are not kept alive);
 * - an idle timeout (`keepAliveTimeout`) that does not apply to sockets in use.
 */
class PodSockets {
  readonly #options: PodSocketOptions
  readonly #agent: AgentInternals
  /** Live sockets by pod (`address:port`), so that a pod leaving can close its own. */
  readonly #byPod = new Map<string, Set<Socket>>()
  readonly #retiring = new WeakSet<Socket>()

  constructor(agent: AgentInternals, options: PodSocketOptions) {
    this.#agent = agent
    this.#options = options
  }

  createSocket(req: http.ClientRequest, options: Record<string, unknown>, cb: SocketCallback): void {
    const pod = `${options.host as string}:${options.port as string}`
    base.createSocket.call(this.#agent, req, options, (error, socket) => {
      if (error !== null || socket === undefined) {
        cb(error ?? new Error('no socket'))
        return
      }
      this.#track(pod, socket)
      this.#whenConnected(socket, pod, (failure) => {
        if (failure === null) {
          cb(null, socket)
          return
        }
        if (!this.#options.onConnectFailure(req, failure)) cb(failure)
      })
    })
  }

  keepSocketAlive(socket: Socket): boolean {
    if (this.#retiring.has(socket)) return false
    const kept = base.keepSocketAlive.call(this.#agent, socket)
    if (kept) socket.setTimeout(this.#options.keepAliveTimeout)
    return kept
  }

  reuseSocket(socket: Socket, req: http.ClientRequest): void {
    base.reuseSocket.call(this.#agent, socket, req)
    // The idle timeout is for idle sockets; a request's own timeout (req.setTimeout) is set after this.
    socket.setTimeout(0)
  }

  retire(pod: string): void {
    const sockets = this.#byPod.get(pod)
    if (sockets === undefined) return
    for (const socket of sockets) this.#retiring.add(socket)
    for (const list of Object.values(this.#agent.freeSockets)) {
      for (const socket of list ?? []) if (this.#retiring.has(socket)) socket.destroy()
    }
  }

  /** Destroys every socket, connecting ones included, and resolves once all have closed. */
  async destroyAll(): Promise<void> {
    const closed: Promise<void>[] = []
    // A socket leaves #byPod on 'close': every one still here has yet to close.
    for (const set of this.#byPod.values()) {
      for (const s of set) closed.push(new Promise<void>((resolve) => s.once('close', () => resolve())))
    }
    ;(this.#agent as unknown as http.Agent).destroy()
    for (const set of this.#byPod.values()) for (const s of set) s.destroy()
    await Promise.all(closed)
  }

  get socketCount(): number {
    let n = 0
    for (const set of this.#byPod.values()) n += set.size
    return n
  }

  #track(pod: string, socket: Socket): void {
    let set = this.#byPod.get(pod)
    if (set === undefined) {
      set = new Set()
      this.#byPod.set(pod, set)
    }
    set.add(socket)
    socket.once('close', () => {
      set.delete(socket)
      if (set.size === 0 && this.#byPod.get(pod) === set) this.#byPod.delete(pod)
    })
  }

  /** Calls back once the socket can carry a request (null), or with why it never will. */
  #whenConnected(socket: Socket, pod: string, done: (failure: Error | null) => void): void {
    const tls = socket instanceof TLSSocket
    if (!tls && !socket.connecting) {
      done(null)
      return
    }
    const ready = tls ? 'secureConnect' : 'connect'
    let settled = false
    const settle = (failure: Error | null): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.off(ready, onReady)
      socket.off('close', onClose)
      // Until the request's own listeners are on (ClientRequest adds them on the next tick), an
      // error must not be unhandled; after a failure the socket is gone and errors are expected.
      if (failure === null) process.nextTick(() => socket.off('error', onError))
      done(failure)
    }
    const onReady = (): void => settle(null)
    const onError = (error: Error): void => settle(error)
    const onClose = (): void =>
      settle(Object.assign(new Error(`socket to ${pod} closed while connecting`), { code: 'ECONNRESET' }))
    const ms = this.#options.connectTimeout
    const timer = setTimeout(() => {
      socket.destroy(
        Object.assign(new Error(`connect ETIMEDOUT ${pod} (timeouts.connect: ${ms} ms)`), {
          code: 'ETIMEDOUT',
        }),
      )
    }, ms)
    timer.unref()
    socket.once(ready, onReady)
    socket.on('error', onError)
    socket.once('close', onClose)
  }
}

/**
 * Gives an Agent class the per-pod socket pool: one body for the `http:` and `https:` agents,
 * which differ only in the base class (https.Agent adds TLS options and the servername).
 */
function withPodSockets<Options extends http.AgentOptions>(
  Base: new (options: Options) => http.Agent,
): new (
  agentOptions: Options,
  options: PodSocketOptions,
) => PodSocketAgent {
  return class extends Base {
    readonly #sockets: PodSockets

    constructor(agentOptions: Options, options: PodSocketOptions) {
      super({ ...agentOptions, keepAlive: true, maxSockets: options.maxSockets })
      this.#sockets = new PodSockets(this as unknown as AgentInternals, options)
    }

    createSocket(req: http.ClientRequest, options: Record<string, unknown>, cb: SocketCallback): void {
      this.#sockets.createSocket(req, options, cb)
    }

    override keepSocketAlive(socket: Socket): boolean {
      return this.#sockets.keepSocketAlive(socket)
    }

    override reuseSocket(socket: Socket, req: http.ClientRequest): void {
      this.#sockets.reuseSocket(socket, req)
    }

    retire(pod: string): void {
      this.#sockets.retire(pod)
    }

    destroyAll(): Promise<void> {
      return this.#sockets.destroyAll()
    }

    get socketCount(): number {
      return this.#sockets.socketCount
    }
  }
}

/** An Agent whose sockets are pooled per pod. */
export interface PodSocketAgent extends http.Agent {
  createSocket(req: http.ClientRequest, options: Record<string, unknown>, cb: SocketCallback): void
  /** Closes the pod's idle sockets and stops handing out its busy ones once they are free. */
  retire(pod: string): void
  /** Destroys every socket (busy, idle, connecting) and resolves once all have closed. */
  destroyAll(): Promise<void>
  readonly socketCount: number
}

/** The per-service socket pool for `http:` services. */
export const HttpPodAgent = withPodSockets<http.AgentOptions>(http.Agent)
/** The per-service socket pool for `https:` services (TLS options and servername in `agentOptions`). */
export const HttpsPodAgent = withPodSockets<https.AgentOptions>(https.Agent)

export type PodAgent = PodSocketAgent

/**
 * Destroys every socket of a Node Agent, idle and busy, and resolves once each has closed:
 * `Agent#destroy()` only starts that, and a caller of close() expects no socket left open.
 */
export async function destroyAgentSockets(agent: http.Agent): Promise<void> {
  const closed: Promise<void>[] = []
  for (const set of [agent.sockets, agent.freeSockets]) {
    for (const list of Object.values(set)) {
      // The Agent drops a socket from these lists on its 'close': a listed one has not closed yet.
      for (const s of (list ?? []) as Socket[])
        closed.push(new Promise<void>((resolve) => s.once('close', () => resolve())))
    }
  }
  agent.destroy()
  await Promise.all(closed)
}
