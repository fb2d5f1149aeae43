import { connect } from 'node:net'
import { performance } from 'node:perf_hooks'
import { Client } from 'undici'
import type { Endpoint } from '../endpoint.js'
import { formatHostPort } from '../internal/format-host-port.js'

/** How `headless-lb check` probes each pod. */
export interface CheckOptions {
  /** The Host header: the service name as given. */
  readonly host: string
  /** HTTP GET this path; undefined with `tcp`. */
  readonly path: string
  /** TCP connects instead of HTTP requests. */
  readonly tcp: boolean
  /** Requests (or connects) per pod per round, one after another. */
  readonly requests: number
  /** Per request, ms. */
  readonly timeout: number
  /** A pod whose p50 is above this many ms is `slow`; undefined: relative (see classify). */
  readonly slow: number | undefined
}

export type PodStatus = 'ok' | 'slow' | 'failing' | 'down'

/** One pod's result for one round. */
export interface PodResult {
  readonly id: string
  readonly name: string | undefined
  readonly address: string
  readonly port: number
  status: PodStatus
  /** The last HTTP status (0: none; always 0 with tcp). */
  readonly httpStatus: number
  /** Ms; null when no request got an answer. */
  readonly p50: number | null
  readonly p99: number | null
  readonly requests: number
  readonly errors: number
  /** The last failure: an error code, a message, or `status 503`. */
  readonly lastError: string | undefined
}

/**
 * Keeps one keep-alive connection per pod across rounds (so a round measures the pod, not the
 * connect, after the first), and probes every pod of a round at once.
 */
export class PodChecker {
  readonly #options: CheckOptions
  readonly #clients = new Map<string, Client>()

  constructor(options: CheckOptions) {
    this.#options = options
  }

  /** Probes every endpoint; results in the endpoints' order, classified against each other. */
  async round(endpoints: ReadonlyArray<Endpoint>, signal: AbortSignal | undefined): Promise<PodResult[]> {
    const live = new Set(endpoints.map((e) => e.id))
    for (const [id, client] of this.#clients) {
      if (!live.has(id)) {
        this.#clients.delete(id)
        void client.destroy().catch(() => {})
      }
    }
    const results = await Promise.all(endpoints.map((e) => this.#probe(e, signal)))
    classify(results, this.#options.slow)
    return results
  }

  async close(): Promise<void> {
    const clients = [...this.#clients.values()]
    this.#clients.clear()
    await Promise.all(clients.map((c) => c.destroy().catch(() => {})))
  }

  async #probe(endpoint: Endpoint, signal: AbortSignal | undefined): Promise<PodResult> {
    const latencies: number[] = []
    let errors = 0
    let sent = 0
    let httpStatus = 0
    let lastError: string | undefined
    for (let i = 0; i < this.#options.requests && !signal?.aborted; i++) {
      const start = performance.now()
      sent++
      try {
        if (this.#options.tcp) await tcpConnect(endpoint, this.#options.timeout, signal)
        else {
          httpStatus = await this.#get(endpoint, signal)
          if (httpStatus < 200 || httpStatus > 399) {
            errors++
            lastError = `status ${httpStatus}`
          }
        }
        latencies.push(performance.now() - start)
      } catch (error) {
        if (signal?.aborted) {
          sent--
          break
        }
        errors++
        lastError = describeFailure(error)
        // A dead connection is not reused for the next request.
        this.#drop(endpoint.id)
      }
    }
    latencies.sort((a, b) => a - b)
    return {
      id: endpoint.id,
      name: endpoint.name,
      address: endpoint.address,
      port: endpoint.port,
      status: 'ok',
      httpStatus,
      p50: quantile(latencies, 0.5),
      p99: quantile(latencies, 0.99),
      requests: sent,
      errors,
      lastError,
    }
  }

  async #get(endpoint: Endpoint, signal: AbortSignal | undefined): Promise<number> {
    let client = this.#clients.get(endpoint.id)
    if (client === undefined) {
      const host = endpoint.family === 6 ? `[${endpoint.address}]` : endpoint.address
      client = new Client(`http://${host}:${endpoint.port}`, {
        connectTimeout: this.#options.timeout,
        headersTimeout: this.#options.timeout,
        bodyTimeout: this.#options.timeout,
        keepAliveTimeout: 30_000,
      })
      this.#clients.set(endpoint.id, client)
    }
    const timeout = AbortSignal.timeout(this.#options.timeout)
    const { statusCode, body } = await client.request({
      path: this.#options.path,
      method: 'GET',
      headers: { host: this.#options.host, 'user-agent': 'headless-lb check' },
      signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]),
    })
    await body.dump()
    return statusCode
  }

  #drop(id: string): void {
    const client = this.#clients.get(id)
    if (client === undefined) return
    this.#clients.delete(id)
    void client.destroy().catch(() => {})
  }
}

/**
 * Each pod's verdict: `down` when no request got through (refused, timed out), `failing` when
 * some did not or answered outside 200-399 (as a Kubernetes HTTP probe judges), `slow` when its
 * p50 is above `slow` ms, or, without it, above 3 x the median p50 of the service's pods and
 * 50 ms (a pod is slow compared with its peers; a service slow everywhere is not a sick pod).
 */
export function classify(results: PodResult[], slow: number | undefined): void {
  const p50s = results
    .map((r) => r.p50)
    .filter((p): p is number => p !== null)
    .sort((a, b) => a - b)
  const median = p50s.length === 0 ? 0 : p50s[p50s.length >> 1]!
  const limit = slow ?? Math.max(50, 3 * median)
  for (const r of results) {
    if (r.requests > 0 && r.errors === r.requests && r.httpStatus === 0) r.status = 'down'
    else if (r.errors > 0) r.status = 'failing'
    else if (r.p50 !== null && r.p50 > limit) r.status = 'slow'
    else r.status = 'ok'
  }
}

/** Nearest-rank quantile of sorted samples. */
function quantile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!
}

function tcpConnect(endpoint: Endpoint, timeout: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: endpoint.address, port: endpoint.port, family: endpoint.family, timeout })
    const fail = (error: Error): void => {
      socket.destroy()
      signal?.removeEventListener('abort', onAbort)
      reject(error)
    }
    const onAbort = (): void => fail(new Error('aborted'))
    signal?.addEventListener('abort', onAbort, { once: true })
    socket.once('connect', () => {
      signal?.removeEventListener('abort', onAbort)
      socket.destroy()
      resolve()
    })
    socket.once('timeout', () => fail(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' })))
    socket.once('error', fail)
  })
}

function describeFailure(error: unknown): string {
  const e = error as { code?: unknown; name?: string; message?: string }
  if (e?.name === 'TimeoutError') return 'timeout'
  if (typeof e?.code === 'string') return e.code
  return e?.message ?? String(error)
}

const COLUMNS = ['POD', 'ADDRESS', 'STATUS', 'HTTP', 'P50', 'P99', 'ERRORS'] as const

/** A pod's row as text cells (for the table and for spotting changes between rounds). */
function cells(r: PodResult): string[] {
  const address = formatHostPort(r.address, r.port)
  return [
    r.name ?? '-',
    address,
    r.status,
    r.httpStatus === 0 ? '-' : String(r.httpStatus),
    ms(r.p50),
    ms(r.p99),
    `${r.errors}/${r.requests}${r.lastError === undefined ? '' : ` ${r.lastError}`}`,
  ]
}

function ms(value: number | null): string {
  if (value === null) return '-'
  return value < 10 ? `${value.toFixed(1)}ms` : `${Math.round(value)}ms`
}

/**
 * The table. With `previous` (a watch's last round), a first column marks what changed: `+` a
 * new pod, `*` a pod whose status, HTTP status or error count changed, and pods gone since are
 * listed once with `-`.
 */
export function renderTable(results: ReadonlyArray<PodResult>, previous?: ReadonlyArray<PodResult>): string {
  const before = new Map((previous ?? []).map((r) => [r.id, r]))
  const marked = previous !== undefined
  const rows: string[][] = []
  for (const r of results) {
    const old = before.get(r.id)
    const mark =
      old === undefined
        ? '+'
        : old.status !== r.status || old.httpStatus !== r.httpStatus || old.errors !== r.errors
          ? '*'
          : ''
    rows.push(marked ? [mark, ...cells(r)] : cells(r))
  }
  if (previous !== undefined) {
    const now = new Set(results.map((r) => r.id))
    for (const r of previous)
      if (!now.has(r.id)) rows.push(['-', ...cells(r).slice(0, 2), 'gone', '', '', '', ''])
  }
  const header = marked ? ['', ...COLUMNS] : [...COLUMNS]
  const all = [header, ...rows]
  const widths = header.map((_, i) => Math.max(...all.map((row) => row[i]!.length)))
  return `${all
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')}\n`
}

/** The exit code's input: true when every pod is `ok` (and there is at least one). */
export function allOk(results: ReadonlyArray<PodResult>): boolean {
  return results.length > 0 && results.every((r) => r.status === 'ok')
}
