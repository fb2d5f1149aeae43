import { Resolver } from 'node:dns/promises'
import { canonicalName } from './dns-name.js'
import { searchCandidates } from './search-list.js'

/** The part of `node:dns/promises` `Resolver` discovery uses; tests pass a fake. */
export interface ResolverLike {
  resolve4(hostname: string, options: { ttl: true }): Promise<Array<{ address: string; ttl: number }>>
  resolve6(hostname: string, options: { ttl: true }): Promise<Array<{ address: string; ttl: number }>>
  resolveSrv(
    hostname: string,
  ): Promise<Array<{ name: string; port: number; priority: number; weight: number }>>
  resolveCname(hostname: string): Promise<string[]>
  setServers(servers: ReadonlyArray<string>): void
  cancel(): void
}

export type ResolverFactory = (options: { timeout: number; tries: number }) => ResolverLike

export const createSystemResolver: ResolverFactory = (options) => new Resolver(options)

export interface AddressRecord {
  readonly address: string
  readonly family: 4 | 6
  /** Seconds, as DNS gave it. */
  readonly ttl: number
}

export interface SrvRecord {
  readonly target: string
  readonly port: number
  readonly priority: number
  readonly weight: number
}

/** A definitive answer: records for `name` (the candidate that answered), or none (NXDOMAIN/NODATA). */
export type Answer<T> =
  | {
      readonly kind: 'records'
      readonly name: string
      readonly query: string
      readonly records: ReadonlyArray<T>
    }
  | { readonly kind: 'empty'; readonly query: string; readonly code: 'ENOTFOUND' | 'ENODATA' }

/**
 * A query that got no definitive answer (SERVFAIL, timeout, refused...): the caller keeps what
 * it had. Internal; sources turn it into a ResolutionError naming the service.
 */
export class DnsQueryError extends Error {
  readonly query: string
  readonly code: string
  constructor(query: string, code: string, cause: unknown) {
    super(`${query}: ${code}`, { cause })
    this.name = 'DnsQueryError'
    this.query = query
    this.code = code
  }
}

/** NXDOMAIN and NODATA are answers ("no such pods"); every other code says nothing about the service. */
function isDefinitiveEmpty(code: unknown): code is 'ENOTFOUND' | 'ENODATA' {
  return code === 'ENOTFOUND' || code === 'ENODATA'
}

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : 'EUNKNOWN'
}

/**
 * Runs queries through one c-ares resolver, expanding short names through the search list
 * (c-ares `resolve*` never does) and sorting outcomes into records, definitive empty answers and
 * DnsQueryErrors.
 */
export class DnsClient {
  readonly resolver: ResolverLike
  readonly #search: ReadonlyArray<string>
  readonly #ndots: number
  /** The candidate that last answered for a name, tried first next time to spare the search walk. */
  readonly #preferred = new Map<string, string>()

  constructor(resolver: ResolverLike, search: ReadonlyArray<string>, ndots: number) {
    this.resolver = resolver
    this.#search = search
    this.#ndots = ndots
  }

  candidates(name: string): string[] {
    return searchCandidates(name, this.#search, this.#ndots)
  }

  /** A/AAAA of an absolute name. `dual` asks both and is empty only if both are. */
  async addresses(name: string, family: 4 | 6 | 'dual'): Promise<Answer<AddressRecord>> {
    if (family !== 'dual') return this.#addressesOf(name, family)
    const [v4, v6] = await Promise.all([this.#addressesOf(name, 4), this.#addressesOf(name, 6)])
    if (v4.kind === 'empty' && v6.kind === 'empty') return v4.code === 'ENOTFOUND' ? v4 : v6
    const records = [
      ...(v4.kind === 'records' ? v4.records : []),
      ...(v6.kind === 'records' ? v6.records : []),
    ]
    return { kind: 'records', name: canonicalName(name), query: `A/AAAA ${name}`, records }
  }

  async #addressesOf(name: string, family: 4 | 6): Promise<Answer<AddressRecord>> {
    const query = `${family === 4 ? 'A' : 'AAAA'} ${name}`
    try {
      const answer =
        family === 4
          ? await this.resolver.resolve4(name, { ttl: true })
          : await this.resolver.resolve6(name, { ttl: true })
      if (answer.length === 0) return { kind: 'empty', query, code: 'ENODATA' }
      const records = answer.map((r) => ({ address: r.address, family, ttl: r.ttl }))
      return { kind: 'records', name: canonicalName(name), query, records }
    } catch (error) {
      const code = codeOf(error)
      if (isDefinitiveEmpty(code)) return { kind: 'empty', query, code }
      throw new DnsQueryError(query, code, error)
    }
  }

  /** SRV of an absolute name. */
  async srv(name: string): Promise<Answer<SrvRecord>> {
    const query = `SRV ${name}`
    try {
      const answer = await this.resolver.resolveSrv(name)
      if (answer.length === 0) return { kind: 'empty', query, code: 'ENODATA' }
      const records = answer.map((r) => ({
        target: canonicalName(r.name),
        port: r.port,
        priority: r.priority,
        weight: r.weight,
      }))
      return { kind: 'records', name: canonicalName(name), query, records }
    } catch (error) {
      const code = codeOf(error)
      if (isDefinitiveEmpty(code)) return { kind: 'empty', query, code }
      throw new DnsQueryError(query, code, error)
    }
  }

  /** CNAME of an absolute name, or undefined when it has none. */
  async cname(name: string): Promise<string | undefined> {
    try {
      const [target] = await this.resolver.resolveCname(name)
      return target === undefined ? undefined : canonicalName(target)
    } catch (error) {
      if (isDefinitiveEmpty(codeOf(error))) return undefined
      throw new DnsQueryError(`CNAME ${name}`, codeOf(error), error)
    }
  }

  /**
   * Asks `ask` for each search candidate of `name` as a pod's stub resolver would, and returns
   * the first non-empty answer. As in glibc's res_search, a failure on one candidate does not
   * stop the walk, but when no candidate answers it is thrown: an empty answer is only
   * definitive when every candidate said so.
   */
  async search<T>(
    name: string,
    ask: (candidate: string) => Promise<Answer<T>>,
    key = name,
  ): Promise<Answer<T> & { candidate?: string }> {
    const all = this.candidates(name)
    const preferred = this.#preferred.get(key)
    const order = preferred ? [preferred, ...all.filter((c) => c !== preferred)] : all
    let firstEmpty: Answer<T> | undefined
    let failure: unknown
    for (const candidate of order) {
      try {
        const answer = await ask(candidate)
        if (answer.kind === 'records') {
          this.#preferred.set(key, candidate)
          return { ...answer, candidate }
        }
        firstEmpty ??= answer
      } catch (error) {
        if (!(error instanceof DnsQueryError) || error.code === 'ECANCELLED') throw error
        failure ??= error
      }
    }
    if (failure) throw failure
    return firstEmpty!
  }
}
