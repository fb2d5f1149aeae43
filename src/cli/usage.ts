// The CLI's words: exit codes, the usage text and each command's --help. Kept apart from the
// argument handling in run-cli.ts so that either can change without scrolling past the other.
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

export const COMMAND_HELP: Readonly<Record<string, string>> = {
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
