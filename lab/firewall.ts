/**
 * Black-holing pod addresses with nftables: one table per lab, whose output-hook chain drops
 * packets to (and from) the black-holed pods. Only inside the private network namespace that
 * scripts/test.mjs runs vitest in (HLB_NETNS=private): the host's firewall is never touched.
 */
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { isIPv4 } from 'node:net'
import { registerExitCleanup } from './exit-cleanup.js'
import { LabUnsupportedError } from './lab-unsupported-error.js'

const NFT = '/usr/sbin/nft'

export interface FirewallSupport {
  readonly supported: boolean
  readonly reason: string
}

/** Whether black-holing is possible here, with a one-line reason for skipped tests when not. */
export function firewallSupport(env: NodeJS.ProcessEnv = process.env): FirewallSupport {
  if (env.HLB_NETNS !== 'private') {
    const why = env.HLB_NETNS_REASON ? ` (${env.HLB_NETNS_REASON})` : ''
    return {
      supported: false,
      reason: `blackhole needs the private network namespace of scripts/test.mjs (HLB_NETNS=private)${why}; the host firewall is never touched`,
    }
  }
  if (!existsSync(NFT)) return { supported: false, reason: `blackhole needs nftables (${NFT} not found)` }
  return { supported: true, reason: 'nftables DROP rules in a private network namespace' }
}

export interface Target {
  readonly ip: string
  readonly port: number
}

let tables = 0

export class Firewall {
  readonly support: FirewallSupport
  /** nft table name, unique per lab in this process. */
  readonly table = `hlb_lab_${process.pid}_${++tables}`
  readonly #blocked = new Map<string, Target>()
  #created = false
  #unregisterExit: (() => void) | undefined
  #queue: Promise<void> = Promise.resolve()
  #closed = false

  constructor(support: FirewallSupport = firewallSupport()) {
    this.support = support
  }

  /** Starts or stops dropping packets to and from `key`'s address and port. */
  async set(key: string, target: Target | undefined): Promise<void> {
    if (!this.support.supported) throw new LabUnsupportedError(this.support.reason)
    if (this.#closed) throw new Error('the lab firewall is closed')
    if (target) this.#blocked.set(key, target)
    else this.#blocked.delete(key)
    await this.#sync()
  }

  isBlocked(key: string): boolean {
    return this.#blocked.has(key)
  }

  /** Rewrites the whole chain in one nft transaction, in call order. */
  #sync(): Promise<void> {
    const run = this.#queue.then(async () => {
      let script = ''
      if (!this.#created) {
        script += `add table inet ${this.table}\n`
        script += `add chain inet ${this.table} output { type filter hook output priority 0; policy accept; }\n`
      }
      script += `flush chain inet ${this.table} output\n`
      for (const { ip, port } of this.#blocked.values()) {
        const family = isIPv4(ip) ? 'ip' : 'ip6'
        script += `add rule inet ${this.table} output ${family} daddr ${ip} tcp dport ${port} drop\n`
        script += `add rule inet ${this.table} output ${family} saddr ${ip} tcp sport ${port} drop\n`
      }
      await nft(script)
      if (!this.#created) {
        this.#created = true
        const table = this.table
        this.#unregisterExit = registerExitCleanup(() => {
          spawnSync(NFT, ['delete', 'table', 'inet', table])
        })
      }
    })
    this.#queue = run.catch(() => {})
    return run
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#queue
    if (!this.#created) return
    this.#unregisterExit?.()
    await nft(`delete table inet ${this.table}\n`)
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

async function nft(script: string): Promise<void> {
  const child = spawn(NFT, ['-f', '-'], { stdio: ['pipe', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c))
  child.stdin.end(script)
  const [code] = (await once(child, 'exit')) as [number | null]
  if (code !== 0) throw new Error(`nft failed (exit ${code}): ${stderr.trim()}`)
}
