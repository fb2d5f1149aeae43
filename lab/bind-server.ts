/**
 * The lab's DNS server: a real BIND 9 `named` process, authoritative for the cluster zone on a
 * loopback address and a free non-53 port (UDP and TCP), run from a temp dir. Changes go in as
 * RFC 2136 dynamic updates (`nsupdate`, allowed from loopback) and are confirmed with a real
 * query before `apply()` resolves, so callers know the server serves the new answer.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { Resolver } from 'node:dns/promises'
import { once } from 'node:events'
import { rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import { type DnsRecord, diffRrsets, type RrsetChange, recordLine, zoneFile } from './dns-records.js'
import { registerExitCleanup } from './exit-cleanup.js'

export interface BindServerOptions {
  /** Loopback address to listen on. */
  readonly address: string
  /** The zone, e.g. `cluster.local`. */
  readonly zone: string
  /** A private directory (the caller owns and deletes it). */
  readonly dir: string
  /** Give up on a start or a change after this long (ms). */
  readonly deadline?: number
}

const NAMED = '/usr/sbin/named'
const NSUPDATE = '/usr/bin/nsupdate'

/** Finds a port free for both TCP and UDP on `address` (named needs both). */
async function freePort(address: string): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const tcp: Server = createServer()
    tcp.listen(0, address)
    await once(tcp, 'listening')
    const port = (tcp.address() as { port: number }).port
    const udp = createSocket('udp4')
    const ok = await new Promise<boolean>((resolve) => {
      udp.once('error', () => resolve(false))
      udp.bind(port, address, () => resolve(true))
    })
    udp.close()
    tcp.close()
    if (ok && port !== 53) return port
  }
  throw new Error(`no port free for both TCP and UDP on ${address}`)
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref())
}

export class BindServer {
  readonly address: string
  readonly zone: string
  readonly #dir: string
  readonly #deadline: number
  #port = 0
  #process: ChildProcess | undefined
  #stderr = ''
  /** What the running server serves (as far as this object applied it). */
  #served: DnsRecord[] = []
  #serial = 1
  readonly #resolver: Resolver
  #unregisterExit: (() => void) | undefined
  #closed = false

  constructor(options: BindServerOptions) {
    this.address = options.address
    this.zone = options.zone
    this.#dir = options.dir
    this.#deadline = options.deadline ?? 10_000
    // Each try is short: the server is local, and a lost UDP datagram on a busy machine should
    // be retried quickly rather than waited on.
    this.#resolver = new Resolver({ timeout: 250, tries: 2 })
  }

  get port(): number {
    return this.#port
  }

  get running(): boolean {
    return this.#process !== undefined
  }

  /** `host:port` for resolvers. */
  get server(): string {
    return `${this.address}:${this.#port}`
  }

  /** Writes the zone with `records` and starts named; resolves once it answers for the zone. */
  async start(records: ReadonlyArray<DnsRecord>): Promise<void> {
    if (this.#closed) throw new Error('the lab DNS server is closed')
    if (this.#process) return
    let lastError: unknown
    // A free port can be taken between probing and named binding it: try a few.
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await this.#startOnce(records)
        return
      } catch (error) {
        lastError = error
        await this.#kill()
      }
    }
    throw lastError
  }

  async #startOnce(records: ReadonlyArray<DnsRecord>): Promise<void> {
    if (this.#port === 0) this.#port = await freePort(this.address)
    else if (!(await this.#portFree())) this.#port = await freePort(this.address)
    // Every start serves the current records from a fresh zone file: no journal to replay.
    this.#serial += 1
    const withSerial = records.map((r) =>
      r.type === 'SOA' ? { ...r, data: withSoaSerial(r.data, this.#serial) } : r,
    )
    const zonePath = join(this.#dir, 'zone.db')
    await rm(`${zonePath}.jnl`, { force: true })
    await writeFile(zonePath, zoneFile(withSerial))
    const confPath = join(this.#dir, 'named.conf')
    await writeFile(confPath, this.#config(zonePath))
    this.#stderr = ''
    // setpriv --pdeathsig: named dies with the process that started it, even if that one is
    // killed without running any handler (a crashed or SIGKILLed test worker).
    const child = spawn(
      'setpriv',
      ['--pdeathsig', 'KILL', '--', NAMED, '-g', '-4', '-n', '1', '-c', confPath],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    )
    this.#process = child
    child.stderr?.setEncoding('utf8')
    child.stderr?.on('data', (chunk: string) => {
      this.#stderr = (this.#stderr + chunk).slice(-8000)
    })
    child.once('exit', () => {
      if (this.#process === child) this.#process = undefined
    })
    const pid = child.pid
    this.#unregisterExit?.()
    this.#unregisterExit = registerExitCleanup(() => {
      if (pid !== undefined) {
        try {
          process.kill(pid, 'SIGKILL')
        } catch {}
      }
    })
    const deadline = Date.now() + this.#deadline
    for (;;) {
      if (this.#process !== child) {
        throw new Error(`named exited during start-up: ${this.#stderrTail()}`)
      }
      try {
        const soa = await this.#resolverReady.resolveSoa(this.zone)
        if (soa.serial === this.#serial) break
      } catch {}
      if (Date.now() > deadline)
        throw new Error(`named did not answer within ${this.#deadline} ms: ${this.#stderrTail()}`)
      await sleep(15)
    }
    this.#served = [...records]
  }

  async #portFree(): Promise<boolean> {
    const udp = createSocket('udp4')
    const ok = await new Promise<boolean>((resolve) => {
      udp.once('error', () => resolve(false))
      udp.bind(this.#port, this.address, () => resolve(true))
    })
    udp.close()
    return ok
  }

  #stderrTail(): string {
    const lines = this.#stderr.trim().split('\n')
    return lines.slice(-5).join(' | ') || '(no output)'
  }

  #config(zonePath: string): string {
    const dir = this.#dir
    return `options {
  directory "${dir}";
  listen-on port ${this.#port} { ${this.address}; };
  listen-on-v6 { none; };
  pid-file none;
  session-keyfile "${join(dir, 'session.key')}";
  managed-keys-directory "${dir}";
  recursion no;
  dnssec-validation no;
  notify no;
  allow-query { any; };
  // The dashed IPv6 names CoreDNS gives (\`--1\`) are not RFC 952 host names.
  check-names primary ignore;
  minimal-responses yes;
};
controls { };
zone "${this.zone}" {
  type primary;
  file "${zonePath}";
  // The lab changes records by RFC 2136 dynamic update, only from loopback.
  allow-update { 127.0.0.0/8; ::1; };
};
`
  }

  get #resolverReady(): Resolver {
    this.#resolver.setServers([this.server])
    return this.#resolver
  }

  /**
   * Replaces what the server serves with `records`: sends the changed RRsets as one dynamic
   * update and resolves once a query returns the new answer. When the server is stopped the
   * records are kept for the next start. Returns the time from call to served (ms).
   */
  async apply(records: ReadonlyArray<DnsRecord>): Promise<number> {
    const started = performance.now()
    if (!this.#process) {
      this.#served = [...records]
      return 0
    }
    const changes = diffRrsets(this.#served, records)
    if (changes.length === 0) return 0
    const soaChange = changes.find((c) => c.type === 'SOA')
    let script = `server ${this.address} ${this.#port}\nzone ${this.zone}.\n`
    for (const change of changes) {
      if (change.type === 'SOA') {
        // An SOA in an update is only taken when its serial grows; named bumps the serial on
        // every update, so ask the server for the current one.
        const soa = await this.#resolverReady.resolveSoa(this.zone)
        const r = change.records[0]!
        script += `update add ${recordLine({ ...r, data: withSoaSerial(r.data, soa.serial + 1) })}\n`
        continue
      }
      script += `update delete ${change.name}. ${change.type}\n`
      for (const r of change.records) script += `update add ${recordLine(r)}\n`
    }
    script += 'send\n'
    await this.#nsupdate(script)
    this.#served = [...records]
    await this.#confirm(soaChange ?? changes[0]!)
    return performance.now() - started
  }

  async #nsupdate(script: string): Promise<void> {
    // -v: TCP, so a large update is neither truncated nor lost; -t: overall timeout (s).
    const child = spawn(NSUPDATE, ['-v', '-t', String(Math.ceil(this.#deadline / 1000))], {
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.setEncoding('utf8').on('data', (c: string) => (output += c))
    child.stderr.setEncoding('utf8').on('data', (c: string) => (output += c))
    child.stdin.end(script)
    const [code] = (await once(child, 'exit')) as [number | null]
    if (code !== 0) throw new Error(`nsupdate failed (exit ${code}): ${output.trim()}\n${script}`)
  }

  /** Polls with real queries until the server answers `change` as applied (or the deadline passes). */
  async #confirm(change: RrsetChange): Promise<void> {
    const deadline = Date.now() + this.#deadline
    let last = ''
    for (;;) {
      const got = await this.#query(change)
      const want = change.records.map((r) => normalise(change.type, r.data)).sort()
      if (JSON.stringify(got) === JSON.stringify(want)) return
      last = JSON.stringify(got)
      if (Date.now() > deadline) {
        throw new Error(
          `the DNS server did not serve ${change.type} ${change.name} = ${JSON.stringify(want)} within ${this.#deadline} ms (last answer ${last})`,
        )
      }
      await sleep(10)
    }
  }

  /** The answer for one RRset, normalised like `normalise()`; [] for NXDOMAIN/NODATA. */
  async #query(change: RrsetChange): Promise<string[]> {
    const r = this.#resolverReady
    try {
      switch (change.type) {
        case 'A':
          return (await r.resolve4(change.name)).sort()
        case 'AAAA':
          return (await r.resolve6(change.name)).sort()
        case 'SRV':
          return (await r.resolveSrv(change.name))
            .map((s) => `${s.priority} ${s.weight} ${s.port} ${s.name.toLowerCase()}`)
            .sort()
        case 'CNAME':
          return (await r.resolveCname(change.name)).map((n) => n.toLowerCase()).sort()
        case 'TXT':
          return (await r.resolveTxt(change.name)).map((t) => `"${t.join('')}"`).sort()
        case 'NS':
          return (await r.resolveNs(change.name)).map((n) => n.toLowerCase()).sort()
        case 'SOA': {
          const s = await r.resolveSoa(change.name)
          return [`${s.nsname.toLowerCase()} ${s.hostmaster.toLowerCase()} ${s.minttl}`]
        }
      }
    } catch (error) {
      const code = (error as { code?: string }).code
      if (code === 'ENOTFOUND' || code === 'ENODATA') return []
      return [`error ${code}`]
    }
  }

  /** Stops named (a DNS outage); `start()` brings it back with the current records. */
  async stop(): Promise<void> {
    await this.#kill()
  }

  /** The records the server serves (or will serve on start). */
  get records(): ReadonlyArray<DnsRecord> {
    return this.#served
  }

  async #kill(): Promise<void> {
    const child = this.#process
    this.#process = undefined
    this.#unregisterExit?.()
    this.#unregisterExit = undefined
    if (!child || child.exitCode !== null || child.signalCode !== null) return
    const exited = once(child, 'exit')
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 2000)
    timer.unref()
    await exited
    clearTimeout(timer)
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#kill()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

function withSoaSerial(data: string, serial: number): string {
  const parts = data.split(' ')
  parts[2] = String(serial)
  return parts.join(' ')
}

/** A record's data in the shape `#query` returns it. */
function normalise(type: RrsetChange['type'], data: string): string {
  switch (type) {
    case 'SRV':
    case 'CNAME':
    case 'NS':
      return data.replace(/\.$/, '').toLowerCase()
    case 'SOA': {
      const [ns, host, , , , , min] = data.split(' ')
      return `${ns!.replace(/\.$/, '')} ${host!.replace(/\.$/, '')} ${min}`
    }
    default:
      return data
  }
}
