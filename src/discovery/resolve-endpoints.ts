import { LRUCache } from 'lru-cache'
import type { Endpoint } from '../endpoint.js'
import { addressId, ordinalOf } from '../endpoint.js'
import type { Clock } from '../internal/clock.js'
import type { NormalizedDiscoveryOptions } from './discovery-options.js'
import {
  type AddressRecord,
  type Answer,
  type DnsClient,
  DnsQueryError,
  type SrvRecord,
} from './dns-client.js'
import { canonicalName, firstLabel, isDashedIpLabel } from './dns-name.js'
import { unusableAddress } from './unusable-address.js'

/** One resolution's outcome: the endpoints DNS gives now, and how long the answer may be trusted. */
export interface Resolution {
  readonly endpoints: ReadonlyArray<Endpoint>
  /** Smallest TTL among the answers used, seconds; undefined when DNS gave none (an empty answer). */
  readonly ttl: number | undefined
  /** For an empty set: the query that came back empty and its code (ENOTFOUND or ENODATA). */
  readonly empty?: { readonly query: string; readonly code: string }
  /**
   * What this resolution left out, without failing as a whole: an SRV target whose lookup failed
   * (its last good address is used, if it had one), an address that cannot be an endpoint.
   */
  readonly problems?: ReadonlyArray<ResolutionProblem>
}

/** One record left out of a resolution, and why. */
export interface ResolutionProblem {
  /** The query whose answer was left out: `A web-1.web.default.svc.cluster.local`. */
  readonly query: string
  /** The DNS error code, when the query failed. */
  readonly code: string | undefined
  readonly message: string
  readonly cause?: unknown
}

/** At most this many queries at once, so hundreds of SRV targets do not flood the DNS server. */
const CONCURRENCY = 16

async function mapLimit<T, R>(items: ReadonlyArray<T>, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length)
  let next = 0
  let failed = false
  const worker = async (): Promise<void> => {
    // After a failure the result is thrown away: the other workers stop rather than keep querying
    // a struggling DNS server for it (and overlap the retry).
    while (!failed && next < items.length) {
      const index = next++
      try {
        results[index] = await fn(items[index]!)
      } catch (error) {
        failed = true
        throw error
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, items.length) }, worker))
  return results
}

function minTtl(records: ReadonlyArray<{ ttl: number }>, current: number | undefined): number | undefined {
  let ttl = current
  for (const r of records) if (ttl === undefined || r.ttl < ttl) ttl = r.ttl
  return ttl
}

/** IPv4 first, then by address, so the address chosen for a dual-stack pod is stable. */
function byFamilyThenAddress(a: AddressRecord, b: AddressRecord): number {
  return a.family - b.family || (a.address < b.address ? -1 : a.address > b.address ? 1 : 0)
}

/** The records that can be endpoints; each one left out is a problem saying why. */
function usableRecords(
  query: string,
  records: ReadonlyArray<AddressRecord>,
  problems: ResolutionProblem[],
): AddressRecord[] {
  const usable: AddressRecord[] = []
  for (const record of records) {
    const why = unusableAddress(record.address, record.family)
    if (why === undefined) usable.push(record)
    else {
      problems.push({
        query,
        code: undefined,
        message: `${query} gave ${record.address}, ${why}: not an endpoint, left out`,
      })
    }
  }
  return usable
}

function withProblems(resolution: Resolution, problems: ReadonlyArray<ResolutionProblem>): Resolution {
  return problems.length === 0 ? resolution : { ...resolution, problems }
}

interface CachedAddresses {
  readonly answer: Answer<AddressRecord>
  readonly expiresAt: number
}

/**
 * Turns DNS answers into endpoints for one of the three DNS sources: A/AAAA of the service
 * (`port`), SRV (`portName`) or known pod names (`pods`). Throws DnsQueryError when DNS gave no
 * definitive answer.
 */
export class EndpointResolver {
  readonly #options: NormalizedDiscoveryOptions
  readonly #client: DnsClient
  readonly #clock: Clock
  /** SRV targets' addresses, kept for their TTL: a refresh then re-asks only the SRV record. */
  readonly #targets = new LRUCache<string, CachedAddresses>({ max: 4096 })

  constructor(options: NormalizedDiscoveryOptions, client: DnsClient, clock: Clock) {
    this.#options = options
    this.#client = client
    this.#clock = clock
  }

  /** The query a resolution starts with, for error messages: `SRV _http._tcp.web`. */
  get firstQuery(): string {
    const o = this.#options
    if (o.portName !== undefined) return `SRV _${o.portName}._tcp.${o.service}`
    const type = o.family === 4 ? 'A' : o.family === 6 ? 'AAAA' : 'A/AAAA'
    return o.pods ? `${type} ${o.pods[0]}.${o.service}` : `${type} ${o.service}`
  }

  resolve(): Promise<Resolution> {
    if (this.#options.portName !== undefined) return this.#resolveSrv(this.#options.portName)
    if (this.#options.pods) return this.#resolvePods(this.#options.pods)
    return this.#resolveService()
  }

  async #resolveService(): Promise<Resolution> {
    const { service, family } = this.#options
    const port = this.#options.port!
    const answer = await this.#client.search(service, (name) => this.#client.addresses(name, family))
    if (answer.kind === 'empty') return { endpoints: [], ttl: undefined, empty: answer }
    const problems: ResolutionProblem[] = []
    const records = usableRecords(answer.query, answer.records, problems)
    const endpoints = records.map((r) => ({
      id: addressId(r.address, port),
      address: r.address,
      family: r.family,
      port,
    }))
    if (endpoints.length === 0) {
      return { endpoints, ttl: undefined, empty: { query: answer.query, code: 'ENODATA' }, problems }
    }
    return withProblems({ endpoints, ttl: minTtl(records, undefined) }, problems)
  }

  async #resolvePods(pods: ReadonlyArray<string>): Promise<Resolution> {
    const { service, family } = this.#options
    const port = this.#options.port!
    const answers = await mapLimit(pods, (pod) =>
      this.#client.search(`${pod}.${service}`, (name) => this.#client.addresses(name, family)),
    )
    const endpoints: Endpoint[] = []
    const problems: ResolutionProblem[] = []
    let ttl: number | undefined
    let empty: { query: string; code: string } | undefined
    answers.forEach((answer, i) => {
      if (answer.kind === 'empty') {
        empty ??= answer
        return
      }
      const usable = usableRecords(answer.query, answer.records, problems)
      if (usable.length === 0) {
        empty ??= { query: answer.query, code: 'ENODATA' }
        return
      }
      const pod = pods[i]!
      // One endpoint per pod: a dual-stack pod is reached on its IPv4 address.
      const record = [...usable].sort(byFamilyThenAddress)[0]!
      const ordinal = ordinalOf(pod)
      endpoints.push({
        id: answer.name,
        address: record.address,
        family: record.family,
        port,
        hostname: answer.name,
        name: pod,
        ...(ordinal === undefined ? {} : { ordinal }),
      })
      ttl = minTtl(usable, ttl)
    })
    return withProblems(
      endpoints.length === 0 ? { endpoints, ttl, ...(empty ? { empty } : {}) } : { endpoints, ttl },
      problems,
    )
  }

  async #resolveSrv(portName: string): Promise<Resolution> {
    const { service, family } = this.#options
    const prefix = `_${portName}._tcp.`
    const answer = await this.#client.search(
      service,
      (name) => this.#client.srv(`${prefix}${name}`),
      `${prefix}${service}`,
    )
    if (answer.kind === 'empty') return { endpoints: [], ttl: undefined, empty: answer }
    const serviceName = canonicalName(answer.candidate ?? service)

    const targets = [...new Set(answer.records.map((r) => r.target))]
    const now = this.#clock.now()
    let ttl: number | undefined
    const addressAnswers = new Map<string, Answer<AddressRecord>>()
    const problems: ResolutionProblem[] = []
    let failed = 0
    let firstFailure: DnsQueryError | undefined
    await mapLimit(targets, async (target) => {
      const key = `${family}:${target}`
      const cached = this.#targets.get(key)
      if (cached && cached.expiresAt > now) {
        addressAnswers.set(target, cached.answer)
        const remaining = Math.ceil((cached.expiresAt - now) / 1000)
        ttl = ttl === undefined ? remaining : Math.min(ttl, remaining)
        return
      }
      let targetAnswer: Answer<AddressRecord>
      try {
        targetAnswer = await this.#client.addresses(target, family)
      } catch (error) {
        // One pod's record failing says nothing about the others: keep the targets that answered
        // (and this one's last good address, however old), and report it. A cancel (close) is no
        // answer at all.
        if (!(error instanceof DnsQueryError) || error.code === 'ECANCELLED') throw error
        failed++
        firstFailure ??= error
        if (cached) addressAnswers.set(target, cached.answer)
        problems.push({
          query: error.query,
          code: error.code,
          message: `${error.query} gave ${error.code}; ${cached ? 'keeping its last good address' : 'left out'}, the other targets are kept`,
          cause: error,
        })
        return
      }
      addressAnswers.set(target, targetAnswer)
      if (targetAnswer.kind === 'records') {
        const targetTtl = minTtl(targetAnswer.records, undefined)!
        ttl = minTtl(targetAnswer.records, ttl)
        if (targetTtl > 0) this.#targets.set(key, { answer: targetAnswer, expiresAt: now + targetTtl * 1000 })
      } else {
        this.#targets.delete(key)
      }
    })

    // Every target failed and none had an address to fall back on: the resolution failed.
    if (firstFailure !== undefined && failed === targets.length && addressAnswers.size === 0)
      throw firstFailure
    const endpoints: Endpoint[] = []
    for (const srv of answer.records) {
      endpoints.push(...this.#srvEndpoints(srv, serviceName, addressAnswers, problems))
    }
    if (endpoints.length === 0) {
      return withProblems(
        {
          endpoints,
          ttl,
          empty: { query: `${family === 6 ? 'AAAA' : 'A'} of SRV targets`, code: 'ENODATA' },
        },
        problems,
      )
    }
    return withProblems({ endpoints, ttl }, problems)
  }

  #srvEndpoints(
    srv: SrvRecord,
    serviceName: string,
    answers: Map<string, Answer<AddressRecord>>,
    problems: ResolutionProblem[],
  ): Endpoint[] {
    const answer = answers.get(srv.target)
    if (!answer || answer.kind === 'empty') return []
    const label = firstLabel(srv.target)
    // A ClusterIP service's SRV target is the service name itself; a Deployment's pods appear
    // under their dashed IP. Neither is a stable pod name, so those endpoints are known by address.
    const named = srv.target !== serviceName && !isDashedIpLabel(label)
    const records = usableRecords(answer.query, answer.records, problems).sort(byFamilyThenAddress)
    const chosen = named ? records.slice(0, 1) : records
    return chosen.map((record) => {
      const base = {
        address: record.address,
        family: record.family,
        port: srv.port,
        priority: srv.priority,
        weight: srv.weight,
      }
      if (!named) return { id: addressId(record.address, srv.port), ...base }
      const ordinal = ordinalOf(label)
      return {
        id: srv.target,
        ...base,
        hostname: srv.target,
        name: label,
        ...(ordinal === undefined ? {} : { ordinal }),
      }
    })
  }
}
