import type { ResolverLike } from '../../src/discovery/dns-client.js'

export interface FakeRecords {
  a?: Array<{ address: string; ttl: number }>
  aaaa?: Array<{ address: string; ttl: number }>
  srv?: Array<{ name: string; port: number; priority: number; weight: number }>
  cname?: string
}

function dnsError(code: string, syscall: string, name: string): Error {
  return Object.assign(new Error(`${syscall} ${code} ${name}`), { code, syscall, hostname: name })
}

/** An in-memory zone answering like c-ares: ENOTFOUND for unknown names, ENODATA for missing types. */
export class FakeResolver implements ResolverLike {
  readonly zone = new Map<string, FakeRecords>()
  readonly queries: string[] = []
  servers: ReadonlyArray<string> = []
  /** When set, every query fails with this code (SERVFAIL, timeout...). */
  failWith: string | undefined
  /** When true, queries hang until cancel(). */
  hang = false
  cancelled = 0
  readonly #pending = new Set<(error: Error) => void>()

  set(name: string, records: FakeRecords): void {
    this.zone.set(name, records)
  }

  #answer<T>(type: string, name: string, pick: (r: FakeRecords) => T[] | undefined): Promise<T[]> {
    this.queries.push(`${type} ${name}`)
    if (this.hang) {
      return new Promise<T[]>((_resolve, reject) => {
        this.#pending.add(reject)
      })
    }
    if (this.failWith) return Promise.reject(dnsError(this.failWith, `query${type}`, name))
    const records = this.zone.get(name)
    if (!records) return Promise.reject(dnsError('ENOTFOUND', `query${type}`, name))
    const answer = pick(records)
    if (!answer || answer.length === 0) return Promise.reject(dnsError('ENODATA', `query${type}`, name))
    return Promise.resolve(answer.map((r) => ({ ...r })))
  }

  resolve4(name: string): Promise<Array<{ address: string; ttl: number }>> {
    return this.#answer('A', name, (r) => r.a)
  }
  resolve6(name: string): Promise<Array<{ address: string; ttl: number }>> {
    return this.#answer('AAAA', name, (r) => r.aaaa)
  }
  resolveSrv(name: string): Promise<Array<{ name: string; port: number; priority: number; weight: number }>> {
    return this.#answer('SRV', name, (r) => r.srv)
  }
  resolveCname(name: string): Promise<string[]> {
    return this.#answer('CNAME', name, (r) => (r.cname ? [r.cname] : undefined))
  }
  setServers(servers: ReadonlyArray<string>): void {
    this.servers = servers
  }
  cancel(): void {
    this.cancelled++
    for (const reject of this.#pending) reject(dnsError('ECANCELLED', 'query', 'cancelled'))
    this.#pending.clear()
  }
}
