// Shared by the discovery and CLI lab tests: waiting for events with a deadline (never a fixed sleep).
import { execFile } from 'node:child_process'
import { Resolver } from 'node:dns/promises'
import type { ResolverFactory, ResolverLike } from '../../src/discovery/dns-client.js'
import type { EndpointSource } from '../../src/discovery/endpoint-source.js'
import type { EndpointChange } from '../../src/endpoint.js'
import { nextEvent } from '../support/next-event.js'

export const POD_SEARCH = ['default.svc.cluster.local', 'svc.cluster.local', 'cluster.local']

/** Resolves with the first `change` that satisfies `accept`, or rejects after `deadlineMs`. */
export function nextChange(
  source: EndpointSource,
  accept: (change: EndpointChange) => boolean = () => true,
  deadlineMs = 15_000,
): Promise<EndpointChange> {
  return nextEvent(
    source,
    'change',
    accept,
    deadlineMs,
    () => `endpoints: ${JSON.stringify(source.endpoints)}`,
  )
}

/** Resolves with the next `error` event, or rejects after `deadlineMs`. */
export function nextError(source: EndpointSource, deadlineMs = 15_000): Promise<Error> {
  return nextEvent<Error>(source, 'error', () => true, deadlineMs)
}

/** A real c-ares resolver that also logs each query it sends (observation only: answers are untouched). */
export function observedResolver(log: string[]): ResolverFactory {
  return (options) => {
    const resolver = new Resolver(options)
    const observed: ResolverLike = {
      resolve4: (name, o) => {
        log.push(`A ${name}`)
        return resolver.resolve4(name, o)
      },
      resolve6: (name, o) => {
        log.push(`AAAA ${name}`)
        return resolver.resolve6(name, o)
      },
      resolveSrv: (name) => {
        log.push(`SRV ${name}`)
        return resolver.resolveSrv(name)
      },
      resolveCname: (name) => {
        log.push(`CNAME ${name}`)
        return resolver.resolveCname(name)
      },
      setServers: (servers) => resolver.setServers([...servers]),
      cancel: () => resolver.cancel(),
    }
    return observed
  }
}

/** The built CLI (npm run build first), run with the repository's Node (process.execPath). */
export const CLI = new URL('../../dist/esm/cli/main.js', import.meta.url).pathname

export function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { encoding: 'utf8', timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0
        resolve({ code, stdout, stderr })
      },
    )
  })
}
