import http from 'node:http'
import https from 'node:https'
import { performance } from 'node:perf_hooks'
import type { Endpoint, EndpointChange } from '../endpoint.js'
import { ClosedError } from '../errors.js'
import { schemePort } from '../internal/default-port.js'
import type { PickOptions } from '../lease.js'
import { invalidType, optionPath, rejectUnknownKeys, requireObject } from '../options.js'
import { AgentServices, normalizeHost } from './agent-services.js'
import { classifyFailure } from './classify-failure.js'
import { HTTP_OPTION_KEYS, type ResolvedHttpOptions } from './client-options.js'
import type { LeasePool } from './lease-pool.js'
import { pickForMethod } from './pick-for-method.js'
import { destroyAgentSockets, HttpPodAgent, HttpsPodAgent, type PodAgent } from './pod-socket-agent.js'
import { watchRotationExits } from './rotation-exits.js'
import { RoutedRequest } from './routed-request.js'

/** Counters of one balanced origin of a HeadlessHttpAgent, since its first request. */
export interface HttpAgentServiceStats {
  readonly service: string
  /** `protocol//host:port` as requests name it. */
  readonly origin: string
  /** Requests routed to a pod (each counted once, however many connects it took). */
  readonly requests: number
  /** Requests taken to another pod after a connect to the first one failed (refused or timed out). */
  readonly connectRetries: number
  /** Requests that ended without a response (socket errors, no endpoint, aborted). */
  readonly failures: number
  /** Open sockets to the pods, idle and busy. */
  readonly sockets: number
}

/** One balanced origin of a HeadlessHttpAgent: its pool, for `stats()`, endpoints and events. */
export interface HttpAgentService {
  readonly service: string
  readonly origin: string
  readonly pool: LeasePool
  stats(): HttpAgentServiceStats
}

/**
 * HTTP options that describe undici's transport: node:http requests are written by the caller's
 * library (axios, got...), which also owns their timeouts and the retries of requests that were
 * sent. A value for one of these would be silently ignored, so it is refused instead.
 */
const UNDICI_ONLY: Readonly<Record<string, string>> = {
  pipelining: 'node:http does not pipeline',
  allowH2: 'node:http speaks HTTP/1.1 only (use createClient or HeadlessAgent for HTTP/2)',
  h2c: 'node:http speaks HTTP/1.1 only (use createClient or HeadlessAgent for HTTP/2)',
  'timeouts.headers': "set your library's timeout (axios `timeout`, got `timeout.response`, req.setTimeout)",
  'timeouts.body': "set your library's timeout (axios `timeout`, got `timeout.response`, req.setTimeout)",
}
const RETRY_HINT =
  'the agent only retries connects that failed before anything was sent (up to retry.retries, on another pod); retries of sent requests are the calling library’s (axios-retry, got `retry`)'

function checkNodeHttpOptions(protocol: 'http:' | 'https:') {
  return (path: string, options: Record<string, unknown>): void => {
    for (const [key, why] of Object.entries(UNDICI_ONLY)) {
      const [head, tail] = key.split('.') as [string, string | undefined]
      const value =
        tail === undefined ? options[head] : (options[head] as Record<string, unknown> | undefined)?.[tail]
      if (value !== undefined) {
        throw invalidType(optionPath(path, key), 'left out for a node:http agent', value, why)
      }
    }
    if (options.retry !== undefined) {
      const retry = requireObject(optionPath(path, 'retry'), options.retry)
      for (const key of Object.keys(retry)) {
        if (key !== 'retries')
          throw invalidType(
            optionPath(path, `retry.${key}`),
            'left out for a node:http agent',
            retry[key],
            RETRY_HINT,
          )
      }
    }
    if (protocol === 'http:' && options.tls !== undefined) {
      throw invalidType(
        optionPath(path, 'tls'),
        'left out for an http: agent',
        options.tls,
        'Use HeadlessHttpsAgent for https: services',
      )
    }
  }
}

const ROUTER_KEYS = [...HTTP_OPTION_KEYS, 'services', 'passThrough']

/**
 * What HeadlessHttpAgent and HeadlessHttpsAgent do, apart from being an http.Agent or an
 * https.Agent: requests to a listed service go to a pod picked per request (a lease from the
 * service's pool), over a per-service socket pool keyed by pod; other hosts go to a plain Agent.
 */
export class NodeAgentRouter {
  readonly #protocol: 'http:' | 'https:'
  readonly #services: AgentServices
  readonly #routes = new Map<string, ServiceRoute>()
  readonly #passThrough: http.Agent
  /** Requests not closed yet, balanced and passed through: close() waits for them. */
  readonly #open = new Set<http.ClientRequest>()
  #onIdle: (() => void) | null = null
  #closed = false
  #closing: Promise<void> | null = null

  constructor(protocol: 'http:' | 'https:', options: unknown) {
    this.#protocol = protocol
    const o = requireObject('options', options)
    rejectUnknownKeys('', o, ROUTER_KEYS)
    this.#services = new AgentServices(o, checkNodeHttpOptions(protocol))
    const passThrough =
      o.passThrough === undefined ? {} : (requireObject('passThrough', o.passThrough) as http.AgentOptions)
    this.#passThrough =
      protocol === 'https:'
        ? new https.Agent({ keepAlive: true, ...passThrough })
        : new http.Agent({ keepAlive: true, ...passThrough })
  }

  get services(): ReadonlyArray<HttpAgentService> {
    return [...this.#routes.values()]
  }

  addRequest(req: http.ClientRequest, options: Record<string, unknown>): void {
    if (this.#closed) {
      fail(req, new ClosedError(this.#protocol === 'https:' ? 'HeadlessHttpsAgent' : 'HeadlessHttpAgent'))
      return
    }
    this.#track(req)
    const host = String(options.host ?? options.hostname ?? 'localhost')
    if (!this.#services.has(host)) {
      ;(this.#passThrough as unknown as { addRequest(r: unknown, o: unknown): void }).addRequest(req, options)
      return
    }
    const hostname = normalizeHost(host.startsWith('[') ? host.slice(1, -1) : host)
    const port = Number(options.port) || schemePort(this.#protocol)
    const key = `${hostname}:${port}`
    let route = this.#routes.get(key)
    if (route === undefined) {
      const origin = `${this.#protocol}//${hostname}:${port}`
      const opened = this.#services.open({ protocol: this.#protocol, hostname, port, origin })
      if (opened === undefined) throw new Error(`unreachable: ${hostname} is listed`)
      route = new ServiceRoute(this.#protocol, origin, hostname, opened.pool, opened.http, opened.closePool)
      this.#routes.set(key, route)
    }
    route.dispatch(req, options)
  }

  /** No new request; in-flight ones finish; then every socket closes (and the pools made here). */
  close(): Promise<void> {
    this.#closed = true
    this.#closing ??= (async () => {
      if (this.#open.size > 0) await new Promise<void>((resolve) => (this.#onIdle = resolve))
      await this.#shutdown()
    })()
    return this.#closing
  }

  /** Like close, but sockets in use are destroyed too (their requests fail). */
  destroy(): Promise<void> {
    this.#closed = true
    const done = this.#shutdown()
    this.#closing ??= done
    return done
  }

  async #shutdown(): Promise<void> {
    await Promise.all([
      destroyAgentSockets(this.#passThrough),
      ...[...this.#routes.values()].map((r) => r.close()),
    ])
  }

  #track(req: http.ClientRequest): void {
    this.#open.add(req)
    req.once('close', () => {
      this.#open.delete(req)
      if (this.#open.size === 0 && this.#onIdle !== null) {
        const idle = this.#onIdle
        this.#onIdle = null
        idle()
      }
    })
  }
}

/** Fails a request that has no socket yet (how Node's Agent fails one whose connect threw). */
function fail(req: http.ClientRequest, error: Error): void {
  ;(req as unknown as { onSocket(socket: undefined, error: Error): void }).onSocket(undefined, error)
}

/** One balanced origin: its pool, its per-pod sockets, and the routing of each request. */
class ServiceRoute implements HttpAgentService {
  readonly service: string
  readonly origin: string
  readonly pool: LeasePool
  readonly #http: ResolvedHttpOptions
  readonly #closePool: (() => Promise<void>) | undefined
  readonly #sockets: PodAgent
  readonly #requests = new WeakMap<http.ClientRequest, RoutedRequest>()
  readonly #onChange: (change: EndpointChange) => void
  readonly #stopWatchingRotation: () => void
  #ready = false
  #readyPromise: Promise<void> | null = null
  #closing: Promise<void> | null = null
  #requestCount = 0
  #connectRetries = 0
  #failures = 0

  constructor(
    protocol: 'http:' | 'https:',
    origin: string,
    hostname: string,
    pool: LeasePool,
    options: ResolvedHttpOptions,
    closePool: (() => Promise<void>) | undefined,
  ) {
    this.service = pool.service
    this.origin = origin
    this.pool = pool
    this.#http = options
    this.#closePool = closePool
    const podOptions = {
      maxSockets: options.connections,
      keepAliveTimeout: options.keepAliveTimeout,
      connectTimeout: options.connectTimeout,
      onConnectFailure: (req: http.ClientRequest, error: Error) => this.#onConnectFailure(req, error),
    }
    // The TLS name is the service's (certificates name services, not pod IPs); the agent's own
    // options win over a request's, so these apply to every request of the service.
    this.#sockets =
      protocol === 'https:'
        ? new HttpsPodAgent({ ...options.tls, servername: options.tls?.servername ?? hostname }, podOptions)
        : new HttpPodAgent({}, podOptions)
    this.#onChange = (change) => {
      for (const endpoint of change.removed) this.#sockets.retire(podKey(endpoint))
      for (const { previous, current } of change.updated) {
        if (previous.address !== current.address || previous.port !== current.port) {
          this.#sockets.retire(podKey(previous))
        }
      }
    }
    pool.on('change', this.#onChange)
    // Ejected or failing its checks: its idle sockets close now, busy ones after their response,
    // so its next request (once it is back) connects afresh, bound by timeouts.connect, instead of
    // being written onto a keep-alive socket a black hole swallows. (Node's Agent offers no way to
    // take back a request waiting for a socket, so stalls are left to the balancer.)
    this.#stopWatchingRotation = watchRotationExits(pool, (endpoint, how) => {
      if (how === 'out') this.#sockets.retire(podKey(endpoint))
    })
  }

  stats(): HttpAgentServiceStats {
    return {
      service: this.service,
      origin: this.origin,
      requests: this.#requestCount,
      connectRetries: this.#connectRetries,
      failures: this.#failures,
      sockets: this.#sockets.socketCount,
    }
  }

  dispatch(req: http.ClientRequest, options: Record<string, unknown>): void {
    this.#requestCount++
    const routed = new RoutedRequest(req, () => {
      if (routed.failed) this.#failures++
    })
    this.#requests.set(req, routed)
    this.#route(routed, options)
  }

  #route(routed: RoutedRequest, options: Record<string, unknown>): void {
    const req = routed.req
    if (req.destroyed) {
      // Aborted while waiting for the pool or a connect: let Node end it as it would.
      ;(req as unknown as { onSocket(socket: undefined): void }).onSocket(undefined)
      return
    }
    if (this.#closing !== null) {
      fail(req, new ClosedError('HeadlessHttpAgent', this.service))
      return
    }
    if (!this.#ready) {
      this.#whenReady().then(
        () => this.#route(routed, options),
        (error: unknown) => fail(req, error as Error),
      )
      return
    }
    const pick = pickForMethod(req.method, this.#http.routeByMethod, this.#http.readPreference)
    let lease: ReturnType<LeasePool['acquire']>
    try {
      lease = this.pool.acquire(
        routed.tried.length === 0 ? pick : ({ ...pick, exclude: routed.tried } as PickOptions),
      )
    } catch (error) {
      // After failed connects, the connect error says more than "no other endpoint".
      fail(req, (routed.lastError ?? error) as Error)
      return
    }
    if (routed.tried.length > 0) this.#connectRetries++
    routed.assign(lease, performance.now())
    routed.options = options
    const endpoint = lease.endpoint
    const target: Record<string, unknown> = {
      ...options,
      host: endpoint.address,
      hostname: endpoint.address,
      port: endpoint.port,
    }
    if (endpoint.family === 6) target.family = 6
    ;(this.#sockets as unknown as { addRequest(r: unknown, o: unknown): void }).addRequest(req, target)
  }

  #onConnectFailure(req: http.ClientRequest, error: Error): boolean {
    const routed = this.#requests.get(req)
    if (routed === undefined || routed.endpoint === null) return false
    const kind = classifyFailure(error)
    const now = performance.now()
    routed.releaseAs(kind, error, now)
    // Nothing was sent: any request may go to another pod, whatever its method.
    const retryable = kind === 'connect-refused' || kind === 'connect-timeout'
    if (!retryable || routed.tried.length >= this.#http.retries || req.destroyed || routed.options === null) {
      return false
    }
    routed.tried.push(routed.endpoint)
    routed.lastError = error
    this.#route(routed, routed.options)
    return true
  }

  #whenReady(): Promise<void> {
    this.#readyPromise ??= this.pool.ready().then(
      () => {
        this.#ready = true
      },
      (error: unknown) => {
        this.#readyPromise = null
        throw error
      },
    )
    return this.#readyPromise
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.pool.off('change', this.#onChange)
      this.#stopWatchingRotation()
      await this.#sockets.destroyAll()
      await this.#closePool?.()
    })()
    return this.#closing
  }
}

function podKey(endpoint: Endpoint): string {
  return `${endpoint.address}:${endpoint.port}`
}
