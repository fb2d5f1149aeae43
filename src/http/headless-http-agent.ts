import http from 'node:http'
import https from 'node:https'
import type { HttpOptions, RetryOptions, TimeoutOptions } from './client-options.js'
import type { LeasePool } from './lease-pool.js'
import { type HttpAgentService, NodeAgentRouter } from './node-agent-router.js'
import type { ClientPoolOptions } from './pool-factory.js'

/**
 * The HTTP options that apply to a node:http agent. The caller's library writes the request
 * and owns its timeouts and the retries of sent requests; the agent picks the pod, holds the
 * per-pod keep-alive sockets, and retries a connect that failed (nothing was sent).
 */
export interface NodeAgentHttpOptions
  extends Pick<HttpOptions, 'connections' | 'keepAliveTimeout' | 'routeByMethod' | 'readPreference'> {
  /** `retries`: connects retried on another pod after a refused or timed-out connect. Default 2. */
  retry?: Pick<RetryOptions, 'retries'>
  /** `connect`: TCP connect (and TLS handshake) deadline, ms. Default 1_000. */
  timeouts?: Pick<TimeoutOptions, 'connect'>
}

/** Per-service options: createPool's (the port from the request's URL unless given) and the agent's HTTP options, or a ready pool. */
export type NodeAgentServiceOptions =
  | (ClientPoolOptions & NodeAgentHttpOptions & { pool?: undefined })
  | (NodeAgentHttpOptions & { pool: LeasePool })

export interface HeadlessHttpAgentOptions extends NodeAgentHttpOptions {
  /** Services to balance, by host name (as URLs name them). Their HTTP options override the agent's. */
  services: Readonly<Record<string, NodeAgentServiceOptions>>
  /** Options of the plain `http.Agent` that serves every other host (default `{ keepAlive: true }`). */
  passThrough?: http.AgentOptions
}

export interface HeadlessHttpsAgentOptions extends NodeAgentHttpOptions {
  /** Services to balance, by host name. `tls` (ca, cert, key, servername...) applies to the service's pods. */
  services: Readonly<Record<string, NodeAgentServiceOptions & { tls?: HttpOptions['tls'] }>>
  /** TLS options for every balanced service (the servername defaults to the service name). */
  tls?: HttpOptions['tls']
  /** Options of the plain `https.Agent` that serves every other host (default `{ keepAlive: true }`). */
  passThrough?: https.AgentOptions
}

/**
 * An `http.Agent` for node:http and the libraries built on it (axios, got, node-fetch,
 * superagent): a request to a listed service goes to a pod picked for **that request** (not
 * per connection), over keep-alive sockets pooled per pod; the Host header stays the service
 * name; the outcome (status, socket error, latency) feeds the pool. Other hosts pass through
 * a plain `http.Agent`.
 */
export class HeadlessHttpAgent extends http.Agent {
  readonly #router: NodeAgentRouter

  constructor(options: HeadlessHttpAgentOptions) {
    // Keep-alive: ClientRequest sends `Connection: keep-alive` only when its agent keeps sockets.
    super({ keepAlive: true })
    this.#router = new NodeAgentRouter('http:', options)
  }

  /** Called by ClientRequest for every request (Node's Agent API). */
  addRequest(req: http.ClientRequest, options: Record<string, unknown>): void {
    this.#router.addRequest(req, options)
  }

  /** The balanced origins used so far: their pools and counters. */
  get services(): ReadonlyArray<HttpAgentService> {
    return this.#router.services
  }

  /** Takes no new request, lets the open ones finish, then closes every socket and the pools it made. Idempotent. */
  close(): Promise<void> {
    return this.#router.close()
  }

  /** Destroys every socket now (requests in flight fail) and closes the pools it made. */
  override destroy(): void {
    void this.#router.destroy()
    super.destroy()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

/** The `https.Agent` twin of HeadlessHttpAgent: SNI and the certificate check use the service name. */
export class HeadlessHttpsAgent extends https.Agent {
  readonly #router: NodeAgentRouter

  constructor(options: HeadlessHttpsAgentOptions) {
    super({ keepAlive: true })
    this.#router = new NodeAgentRouter('https:', options)
  }

  /** Called by ClientRequest for every request (Node's Agent API). */
  addRequest(req: http.ClientRequest, options: Record<string, unknown>): void {
    this.#router.addRequest(req, options)
  }

  get services(): ReadonlyArray<HttpAgentService> {
    return this.#router.services
  }

  close(): Promise<void> {
    return this.#router.close()
  }

  override destroy(): void {
    void this.#router.destroy()
    super.destroy()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}
