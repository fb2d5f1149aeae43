import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { createEndpointSource, type DiscoveryInternals } from '../discovery/create-endpoint-source.js'
import type { DiscoveryOptions } from '../discovery/discovery-options.js'
import { type NormalizedDiscoveryOptions, validateDiscoveryOptions } from '../discovery/discovery-options.js'
import { createSystemResolver, DnsClient, DnsQueryError } from '../discovery/dns-client.js'
import { readResolvConf } from '../discovery/resolv-conf.js'
import type { Endpoint, EndpointChange } from '../endpoint.js'
import { describeEndpoint } from '../endpoint.js'
import { ResolutionError } from '../errors.js'
import { portNumber } from '../options.js'
import { VERSION } from '../version.js'
import { allOk, type CheckOptions, PodChecker, type PodResult, renderTable } from './check.js'
import { diagnose, renderDiagnosis } from './doctor.js'

/** Documented in `--help` and docs/discovery.md, docs/observability.md; scripts depend on them. */
export const EXIT = Object.freeze({
  /** doctor: a headless service with ready pods; resolve: at least one endpoint; check: every pod ok. */
  ok: 0,
  /**
   * doctor: a problem (ClusterIP or ExternalName service, no ready pods); resolve: no endpoints;
   * check: no endpoints, or a pod slow, failing or down.
   */
  problem: 1,
  usage: 2,
  /** DNS gave no answer (timeout, SERVFAIL, refused). */
  dnsFailure: 3,
  /** A bug: an error nothing here expected (sysexits' EX_SOFTWARE); its stack goes to stderr. */
  internal: 70,
  /** Ctrl-C (SIGINT) or SIGTERM before there was an answer to print: 128 + SIGINT, as shells report it. */
  interrupted: 130,
})

const SERVICE_NOTE = `<service> is a DNS name (web.default.svc.cluster.local) or a short name (web, web.default),
expanded with the search list of /etc/resolv.conf as inside a pod.`

const DNS_OPTIONS = `  --dns-server <ip[:port]>  DNS server to ask (repeatable); default: the system's (resolv.conf)
  --family <4|6|dual>       Address families (default 4)
  --search <domain>         Search domain for short names (repeatable); default: resolv.conf
  --ndots <n>               ndots for short names; default: resolv.conf`

const COMMON_EXITS = `  2  usage error (unknown option, invalid service name...)
  3  DNS failure (timeout, SERVFAIL, refused)
  70  internal error (a bug: please report it with the stack printed)
  130  interrupted (Ctrl-C) before there was an answer`

export const USAGE = `Usage:
  headless-lb doctor <service> [options]    Say how the service looks in DNS, and whether client-side balancing can work
  headless-lb resolve <service> [options]   Print the endpoint set (--watch: and each change, until Ctrl-C)
  headless-lb check <service> [options]     Send a few requests to every pod: which one is slow or failing (--watch: live)
  headless-lb <command> --help              The options and exit codes of one command
  headless-lb --version                     The version

${SERVICE_NOTE}

Options:
${DNS_OPTIONS}
  --port <n>                The pods' port (A/AAAA records)
  --port-name <name>        Named port: SRV _<name>._tcp.<service> (doctor and check default: http)
  --timeout <ms>            resolve: how long to wait for a first answer (default 10000); check: per request (default 2000)
  --watch                   resolve: keep running and print each change; check: refresh the table
  --json                    Machine-readable output (resolve --watch: one JSON object per line,
                            {"type":"snapshot",...} first, then {"type":"change",...})
  -h, --help                This help

Exit codes:
  0  doctor: headless service with ready pods; resolve: at least one endpoint; check: every pod ok
  1  doctor: a problem (ClusterIP or ExternalName service, no ready pods); resolve: no endpoints;
     check: no endpoints, or a pod slow, failing or down
${COMMON_EXITS}
`

const COMMAND_HELP: Readonly<Record<string, string>> = {
  doctor: `Usage: headless-lb doctor <service> [options]

Says how the service looks in DNS (headless or ClusterIP, a StatefulSet or a Deployment, ready
pods or none), and whether client-side balancing can work for it.

${SERVICE_NOTE}

Options:
${DNS_OPTIONS}
  --port <n>                The pods' port, when SRV gives none
  --port-name <name>        Named port: SRV _<name>._tcp.<service> (default http)
  --json                    Machine-readable output
  -h, --help                This help

Exit codes:
  0  a headless service with ready pods
  1  a problem: a ClusterIP or ExternalName service, no ready pods
${COMMON_EXITS}
`,
  resolve: `Usage: headless-lb resolve <service> (--port <n> | --port-name <name>) [options]

Prints the endpoint set as the library resolves it; with --watch, each change until Ctrl-C.

${SERVICE_NOTE}

Options:
${DNS_OPTIONS}
  --port <n>                The pods' port (A/AAAA records)
  --port-name <name>        Named port: SRV _<name>._tcp.<service>
  --timeout <ms>            How long to wait for a first answer (default 10000)
  --watch                   Keep running and print each change
  --json                    One JSON object ({"type":"snapshot",...}; with --watch one per line,
                            then {"type":"change",...} and {"type":"error",...})
  -h, --help                This help

Exit codes:
  0  at least one endpoint
  1  no endpoints
${COMMON_EXITS}
`,
  check: `Usage: headless-lb check <service> [options]

Resolves the service, then sends a few requests (or TCP connects) to every pod, one after another
per pod, all pods at once, and prints a row per pod: name, address, status, last HTTP status,
latency p50/p99, errors. Status: ok; slow (p50 above --slow, by default above 3 x the service's
median p50 and 50 ms); failing (a request failed or answered outside 200-399); down (none got through).

${SERVICE_NOTE}

Options:
${DNS_OPTIONS}
  --port <n>                The pods' port (A/AAAA records)
  --port-name <name>        Named port: SRV _<name>._tcp.<service> (default http, unless --port)
  --path <path>             HTTP GET this path (default /healthz), with the service name as Host
  --tcp                     TCP connects instead of HTTP requests
  --requests <n>            Per pod and round (default 5)
  --timeout <ms>            Per request (default 2000)
  --slow <ms>               A pod whose p50 is above this is slow (default: relative, as above)
  --watch                   Refresh the table in place every --interval until Ctrl-C, marking
                            changes: + a new pod, * a changed status, - a pod gone
  --interval <ms>           Between rounds with --watch (default 2000)
  --json                    One JSON object per round ({"type":"check",...}; --watch: one per line)
  -h, --help                This help

Exit codes (with --watch: of the last round):
  0  every pod answered, none slow
  1  no endpoints, or a pod slow, failing or down
${COMMON_EXITS}
`,
}

export interface CliIo {
  readonly stdout: { write(text: string): unknown }
  readonly stderr: { write(text: string): unknown }
  /** Ends `resolve --watch` (main wires SIGINT/SIGTERM to it). */
  readonly signal?: AbortSignal
  readonly internals?: DiscoveryInternals
}

class UsageError extends Error {}

/**
 * Runs one of our option validators: what it throws (TypeError/RangeError naming the option) is
 * the user's mistake, so a usage error. A TypeError from anywhere else is a bug, not usage.
 */
function validated<T>(validate: () => T): T {
  try {
    return validate()
  } catch (error) {
    if (error instanceof TypeError || error instanceof RangeError) throw new UsageError(error.message)
    throw error
  }
}

function parse(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        'dns-server': { type: 'string', multiple: true },
        port: { type: 'string' },
        'port-name': { type: 'string' },
        family: { type: 'string' },
        search: { type: 'string', multiple: true },
        ndots: { type: 'string' },
        timeout: { type: 'string' },
        watch: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
        version: { type: 'boolean', default: false },
        path: { type: 'string' },
        tcp: { type: 'boolean', default: false },
        requests: { type: 'string' },
        slow: { type: 'string' },
        interval: { type: 'string' },
      },
    })
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
}

function integer(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined
  if (!/^\d+$/.test(text))
    throw new UsageError(`--${flag} must be a whole number, got ${JSON.stringify(text)}`)
  return Number(text)
}

function family(text: string | undefined): 4 | 6 | 'dual' | undefined {
  if (text === undefined) return undefined
  if (text === '4' || text === '6') return Number(text) as 4 | 6
  if (text === 'dual') return 'dual'
  throw new UsageError(`--family must be 4, 6 or dual, got ${JSON.stringify(text)}`)
}

function endpointLine(e: Endpoint): string {
  const extra = [
    e.hostname ? `hostname=${e.hostname}` : undefined,
    e.priority === undefined ? undefined : `priority=${e.priority}`,
    e.weight === undefined ? undefined : `weight=${e.weight}`,
  ].filter(Boolean)
  return `${describeEndpoint(e)}${extra.length ? `  ${extra.join(' ')}` : ''}`
}

/** Runs the CLI; returns the exit code. Never calls process.exit, so tests can drive it. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  try {
    return await dispatch(argv, io)
  } catch (error) {
    // Whatever a cancelled query threw, the user asked to stop: say so, not "DNS failure".
    if (io.signal?.aborted) {
      io.stderr.write('headless-lb: interrupted\n')
      return EXIT.interrupted
    }
    if (error instanceof UsageError) {
      io.stderr.write(`headless-lb: ${error.message}\n\n${USAGE}`)
      return EXIT.usage
    }
    if (error instanceof DnsQueryError || error instanceof ResolutionError) {
      io.stderr.write(`headless-lb: DNS failure: ${error.message}\n`)
      return EXIT.dnsFailure
    }
    io.stderr.write(`headless-lb: internal error: ${(error as Error)?.stack ?? String(error)}\n`)
    return EXIT.internal
  }
}

async function dispatch(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv)
  const [command, service, ...rest] = positionals
  if (values.version) {
    io.stdout.write(`${VERSION}\n`)
    return EXIT.ok
  }
  if (values.help) {
    io.stdout.write((command === undefined ? undefined : COMMAND_HELP[command]) ?? USAGE)
    return EXIT.ok
  }
  if (command !== 'doctor' && command !== 'resolve' && command !== 'check') {
    throw new UsageError(
      command === undefined ? 'a command is needed' : `unknown command ${JSON.stringify(command)}`,
    )
  }
  if (service === undefined) throw new UsageError(`${command} needs a <service>`)
  if (rest.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(rest[0])}`)
  if (values.watch && command === 'doctor') throw new UsageError('--watch applies to resolve and check only')
  // doctor's time is bounded by its DNS queries' timeouts; a --timeout it ignored would mislead.
  if (values.timeout !== undefined && command === 'doctor') {
    throw new UsageError('--timeout applies to resolve and check only')
  }
  if (command !== 'check') {
    for (const flag of ['path', 'tcp', 'requests', 'slow', 'interval'] as const) {
      if (values[flag] !== undefined && values[flag] !== false)
        throw new UsageError(`--${flag} applies to check only`)
    }
  }

  const dns: NonNullable<DiscoveryOptions['dns']> = {
    ...(values['dns-server'] ? { servers: values['dns-server'] } : {}),
    ...(values.search ? { search: values.search } : {}),
    ...(values.ndots === undefined ? {} : { ndots: integer('ndots', values.ndots)! }),
  }
  const port = integer('port', values.port)
  const options: DiscoveryOptions = {
    service,
    ...(port === undefined ? {} : { port }),
    ...(values['port-name'] === undefined ? {} : { portName: values['port-name'] }),
    ...(values.family === undefined ? {} : { family: family(values.family)! }),
    dns,
    ...(values.timeout === undefined || command !== 'resolve'
      ? {}
      : { readyTimeout: integer('timeout', values.timeout)! }),
  }
  if (command === 'doctor') {
    // doctor asks SRV (default port name http) even when --port is given.
    if (port !== undefined) validated(() => portNumber('port', port))
    const checked = validated(() =>
      validateDiscoveryOptions({ ...options, port: undefined, portName: options.portName ?? 'http' }),
    )
    return doctor(checked, port, values.json, io)
  }
  if (command === 'check') {
    if (values.tcp && values.path !== undefined) throw new UsageError('--path and --tcp exclude each other')
    const path = values.path ?? '/healthz'
    if (!path.startsWith('/')) throw new UsageError(`--path must start with /, got ${JSON.stringify(path)}`)
    const requests = integer('requests', values.requests) ?? 5
    if (requests < 1) throw new UsageError('--requests must be at least 1')
    const slow = integer('slow', values.slow)
    const checkOptions = {
      ...options,
      ...(port === undefined && options.portName === undefined ? { portName: 'http' } : {}),
    }
    validated(() => validateDiscoveryOptions(checkOptions))
    return check(
      checkOptions,
      {
        host: service,
        path,
        tcp: values.tcp,
        requests,
        timeout: Math.max(1, integer('timeout', values.timeout) ?? 2_000),
        slow,
      },
      {
        watch: values.watch,
        json: values.json,
        interval: Math.max(100, integer('interval', values.interval) ?? 2_000),
      },
      io,
    )
  }
  validated(() => validateDiscoveryOptions(options))
  return resolve(options, values.watch, values.json, io)
}

async function check(
  options: DiscoveryOptions,
  checkOptions: CheckOptions,
  output: { watch: boolean; json: boolean; interval: number },
  io: CliIo,
): Promise<number> {
  const source = createEndpointSource(options, io.internals)
  const checker = new PodChecker(checkOptions)
  const signal = io.signal
  // In place on a terminal (as top and kubectl get -w do); one table after another in a pipe or a file.
  const tty = (io.stdout as { isTTY?: boolean }).isTTY === true
  const what = checkOptions.tcp ? 'TCP connect' : `GET ${checkOptions.path}`
  try {
    await source.ready(signal === undefined ? {} : { signal })
    let previous: PodResult[] | undefined
    for (;;) {
      const results = await checker.round(source.endpoints, signal)
      if (signal?.aborted) break
      const at = new Date().toISOString()
      if (output.json) {
        const line = {
          type: 'check',
          at,
          service: options.service,
          stale: source.stale,
          probe: what,
          endpoints: results,
        }
        io.stdout.write(`${JSON.stringify(line, null, output.watch ? 0 : 2)}\n`)
      } else {
        const title = `${options.service}: ${results.length} pod(s), ${checkOptions.requests} x ${what} each${source.stale ? ' (DNS failing: last good set)' : ''}`
        const table = renderTable(results, output.watch ? (previous ?? results) : undefined)
        io.stdout.write(
          `${tty && output.watch ? '\x1b[H\x1b[2J' : ''}${output.watch ? `${at}  ` : ''}${title}\n${table}`,
        )
        if (output.watch && !tty) io.stdout.write('\n')
      }
      previous = results
      if (!output.watch) break
      try {
        // Ref'd: watching is this command's whole job (the library's own timers are unref'd).
        await sleep(output.interval, undefined, signal === undefined ? {} : { signal })
      } catch {
        break
      }
    }
    // Interrupted before the first table: runCli reports it as such (130).
    if (previous === undefined) signal?.throwIfAborted()
    return previous !== undefined && allOk(previous) ? EXIT.ok : EXIT.problem
  } finally {
    await checker.close()
    await source.close()
  }
}

async function doctor(
  options: NormalizedDiscoveryOptions,
  port: number | undefined,
  json: boolean,
  io: CliIo,
): Promise<number> {
  const { service, family: fam, dns } = options
  const portName = options.portName ?? 'http'
  const internals = io.internals ?? {}
  const conf = internals.resolvConf ?? readResolvConf()
  const resolver = (internals.createResolver ?? createSystemResolver)({
    timeout: dns.timeout,
    tries: dns.tries,
  })
  if (dns.servers) resolver.setServers(dns.servers)
  const client = new DnsClient(resolver, dns.search ?? conf.search, dns.ndots ?? conf.ndots)
  // Ctrl-C cancels the queries in flight (a silent DNS server would otherwise hold the
  // command for every query's timeout, the signal handler having replaced Node's default exit).
  const signal = io.signal
  const cancel = (): void => resolver.cancel()
  signal?.addEventListener('abort', cancel, { once: true })
  try {
    signal?.throwIfAborted()
    const diagnosis = await diagnose(client, { service, family: fam, portName, port, signal })
    const servers = dns.servers?.join(', ') ?? (conf.nameservers.join(', ') || 'system default')
    io.stdout.write(
      json
        ? `${JSON.stringify({ ...diagnosis, dnsServers: servers }, null, 2)}\n`
        : renderDiagnosis(diagnosis, servers),
    )
    return diagnosis.exitCode
  } finally {
    signal?.removeEventListener('abort', cancel)
    resolver.cancel()
  }
}

async function resolve(options: DiscoveryOptions, watch: boolean, json: boolean, io: CliIo): Promise<number> {
  const source = createEndpointSource(options, io.internals)
  try {
    // An empty answer is an answer here: resolve prints it and exits 1.
    await source.ready(
      io.signal === undefined ? { allowEmpty: true } : { signal: io.signal, allowEmpty: true },
    )
    const endpoints = source.endpoints
    // Every JSON object has one shape, `{ type, at, service, stale, endpoints }` (a change adds
    // added, removed, updated), so a --watch reader parses every line the same way.
    const service = options.service
    if (json) {
      const snapshot = {
        type: 'snapshot',
        at: new Date().toISOString(),
        service,
        stale: source.stale,
        endpoints,
      }
      io.stdout.write(`${JSON.stringify(snapshot, null, watch ? 0 : 2)}\n`)
    } else {
      io.stdout.write(`${options.service}: ${endpoints.length} endpoint(s)\n`)
      for (const e of endpoints) io.stdout.write(`  ${endpointLine(e)}\n`)
    }
    if (!watch) return endpoints.length > 0 ? EXIT.ok : EXIT.problem
    const signal = io.signal ?? new AbortController().signal
    await new Promise<void>((done) => {
      const onChange = (change: EndpointChange): void => {
        if (json) {
          const { added, removed, updated, endpoints } = change
          const at = new Date().toISOString()
          const line = {
            type: 'change',
            at,
            service,
            stale: source.stale,
            endpoints,
            added,
            removed,
            updated,
          }
          io.stdout.write(`${JSON.stringify(line)}\n`)
          return
        }
        const at = new Date().toISOString()
        for (const e of change.added) io.stdout.write(`${at} + ${endpointLine(e)}\n`)
        for (const e of change.removed) io.stdout.write(`${at} - ${endpointLine(e)}\n`)
        for (const u of change.updated) {
          io.stdout.write(`${at} ~ ${describeEndpoint(u.previous)} -> ${endpointLine(u.current)}\n`)
        }
        io.stdout.write(`${at}   ${change.endpoints.length} endpoint(s)\n`)
      }
      const onError = (error: Error): void => {
        const line = json
          ? `${JSON.stringify({ type: 'error', at: new Date().toISOString(), service, message: error.message, dnsCode: (error as ResolutionError).dnsCode })}\n`
          : `${new Date().toISOString()} ! ${error.message} (keeping the last good set)\n`
        io.stderr.write(line)
      }
      source.on('change', onChange)
      source.on('error', onError)
      if (signal.aborted) {
        done()
        return
      }
      // The source's timers are unref'd (a library must not keep a process alive); watching is
      // this command's whole job, so it holds the event loop open itself until the signal.
      const keepAlive = setInterval(() => {}, 1 << 30)
      signal.addEventListener(
        'abort',
        () => {
          clearInterval(keepAlive)
          done()
        },
        { once: true },
      )
    })
    return source.endpoints.length > 0 ? EXIT.ok : EXIT.problem
  } finally {
    await source.close()
  }
}
