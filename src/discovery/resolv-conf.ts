import { readFileSync } from 'node:fs'

/** The parts of resolv.conf(5) that name expansion needs. */
export interface ResolvConf {
  readonly nameservers: ReadonlyArray<string>
  readonly search: ReadonlyArray<string>
  /** resolv.conf(5): default 1; a pod's resolv.conf says `options ndots:5`. */
  readonly ndots: number
}

/**
 * Parses resolv.conf text. We parse it ourselves because c-ares' `resolve*` calls (the only ones
 * that return TTLs) never apply the search list. As glibc does, the last `search`/`domain` line wins.
 */
export function parseResolvConf(text: string): ResolvConf {
  const nameservers: string[] = []
  let search: string[] = []
  let ndots = 1
  for (const rawLine of text.split('\n')) {
    const line = rawLine.replace(/[#;].*$/, '').trim()
    if (!line) continue
    const [keyword, ...args] = line.split(/\s+/)
    if (keyword === 'nameserver' && args[0]) nameservers.push(args[0])
    else if (keyword === 'search')
      search = args.map((d) => d.replace(/\.$/, '').toLowerCase()).filter(Boolean)
    else if (keyword === 'domain' && args[0]) search = [args[0].replace(/\.$/, '').toLowerCase()]
    else if (keyword === 'options') {
      for (const option of args) {
        const match = /^ndots:(\d+)$/.exec(option)
        // resolv.conf(5) caps ndots at 15.
        if (match) ndots = Math.min(Number(match[1]), 15)
      }
    }
  }
  return { nameservers, search, ndots }
}

/** Reads and parses a resolv.conf; a missing or unreadable file means no search list. */
export function readResolvConf(path = '/etc/resolv.conf'): ResolvConf {
  try {
    return parseResolvConf(readFileSync(path, 'utf8'))
  } catch {
    return { nameservers: [], search: [], ndots: 1 }
  }
}
