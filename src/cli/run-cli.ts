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
import { namesPort } from '../internal/default-port.js'
import { InvalidOptionError, OptionRangeError } from '../invalid-option-error.js'
import { portNumber } from '../options.js'
import { VERSION } from '../version.js'
import { allOk, type CheckOptions, PodChecker, type PodResult, renderTable } from './check.js'
import { diagnose, renderDiagnosis } from './doctor.js'
import { COMMAND_HELP, EXIT, USAGE } from './usage.js'

export { EXIT, USAGE }

export interface CliIo {
  readonly stdout: { write(text: string): unknown }
  readonly stderr: { write(text: string): unknown }
  /** Ends `resolve --watch` (main wires SIGINT/SIGTERM to it). */
  readonly signal?: AbortSignal
  readonly internals?: DiscoveryInternals
}

class UsageError extends Error {}

/** The command-line flag (or argument) that sets each discovery option the commands pass. */
const FLAG_OF_OPTION: Readonly<Record<string, string>> = {
  service: '<service>',
  port: '--port',
  portName: '--port-name',
  family: '--family',
  'dns.servers': '--dns-server',
  'dns.search': '--search',
  'dns.ndots': '--ndots',
  readyTimeout: '--timeout',
}

/**
 * Runs one of our option validators: what it throws (InvalidOptionError/OptionRangeError naming
 * the option) is the user's mistake, so a usage error, named as the user wrote it: the flag
 * (`--port must be an integer from 1 to 65535, got 70000`), as the CLI's own checks do. Anything
 * else thrown is a bug, not usage.
 */
function validated<T>(validate: () => T): T {
  try {
    return validate()
  } catch (error) {
    if (error instanceof InvalidOptionError || error instanceof OptionRangeError) {
      const option = error.path.replace(/\[\d+\]$/, '')
      const flag = FLAG_OF_OPTION[option]
      const named = error.message.startsWith(error.path) && flag !== undefined
      throw new UsageError(named ? `${flag}${error.message.slice(error.path.length)}` : error.message)
    }
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
      // No port given: the SRV records of the port named http say it.
      ...(namesPort(options) ? {} : { portName: 'http' }),
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
