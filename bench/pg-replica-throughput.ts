// Throughput of `db.replica.query('SELECT 1')` through headless-lb/pg over two streaming
// standbys against a plain `pg.Pool` to one standby, with the same total connections, in one
// run: interleaved repetitions, median queries/s, its ratio to the plain pool, and the client's
// CPU per query (the router's own cost, less sensitive to a busy machine than throughput).
//
//   npx node --import ./scripts/ts-resolve.mjs bench/pg-replica-throughput.ts [--seconds 2] [--reps 5] [--connections 8]
//
// Real servers: Debian's postgresql-15 (a primary and two standbys cloned with pg_basebackup,
// lab/postgres.ts) published in the lab's DNS as a StatefulSet; the router resolves it by
// SRV. The servers and this client share the machine's cores, so compare ratios, not req/s.
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { startLab } from '../lab/index.js'
import { startPostgresPair } from '../lab/postgres.js'
import { runInPrivateNetwork } from '../lab/private-network.js'
import { createPgRouter } from '../src/pg/index.js'
import { closedLoop, median } from './http-bench-support.js'

if (!runInPrivateNetwork(fileURLToPath(import.meta.url))) process.exit(0)

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '2' },
    reps: { type: 'string', default: '5' },
    connections: { type: 'string', default: '8' },
    json: { type: 'boolean' },
  },
})
const runMs = Number(values.seconds) * 1_000
const reps = Number(values.reps)
const connections = Number(values.connections)
// Two queries waiting per connection: every connection stays busy, in both variants.
const concurrency = connections * 2

await using lab = await startLab()
await using servers = await startPostgresPair({ extraStandbyAddresses: ['127.0.20.3'] })
const [first, second] = servers.standbys
const service = await lab.addService({
  name: 'db',
  kind: 'headless',
  workload: 'statefulset',
  port: 5432,
  ports: [{ name: 'postgres', port: 5432 }],
  servePods: false,
  podIps: [servers.primary.host, first!.host, second!.host],
})
const connection = { user: 'postgres', database: 'postgres' }

const plain = new pg.Pool({ ...connection, host: first!.host, port: 5432, max: connections })
const db = createPgRouter({
  service: service.fqdn,
  portName: 'postgres',
  dns: { servers: [lab.dnsServer] },
  pg: { ...connection, max: connections / 2 },
  readPreference: 'replica',
})
await db.ready()
// Both standbys probed as replicas (the first probe round answers endpoint by endpoint).
for (let i = 0; db.stats().endpoints.filter((e) => e.role === 'replica').length < 2; i++) {
  if (i > 500) throw new Error('the router did not find two replicas within 10 s')
  await new Promise((resolve) => setTimeout(resolve, 20))
}

interface Sample {
  readonly qps: number
  readonly cpuPerQuery: number
}
const variants: Record<string, () => Promise<unknown>> = {
  'pg.Pool, one standby': () => plain.query('SELECT 1'),
  'headless-lb/pg db.replica, two standbys': () => db.replica.query('SELECT 1'),
}
const samples = new Map<string, Sample[]>(Object.keys(variants).map((name) => [name, []]))

// Warm-up: every connection open, the JIT done with both paths.
for (const once of Object.values(variants))
  await closedLoop(concurrency, 500, async () => void (await once()))
for (let rep = 0; rep < reps; rep++) {
  // Alternate the order, so that neither variant always runs first after a pause.
  const order = rep % 2 === 0 ? Object.entries(variants) : Object.entries(variants).reverse()
  for (const [name, once] of order) {
    const cpu = process.cpuUsage()
    const started = performance.now()
    const result = await closedLoop(concurrency, runMs, async () => void (await once()))
    const elapsed = performance.now() - started
    const used = process.cpuUsage(cpu)
    if (result.failed > 0)
      throw new Error(`${name}: ${result.failed} queries failed: ${[...result.errors.keys()]}`)
    samples.get(name)!.push({
      qps: (result.ok / elapsed) * 1_000,
      cpuPerQuery: (used.user + used.system) / result.ok,
    })
  }
}
const perEndpoint = db.stats().endpoints.map((e) => `${e.endpoint.name}: ${e.requests}`)
await Promise.all([plain.end(), db.close()])

const [baseName, routerName] = Object.keys(variants) as [string, string]
const base = samples.get(baseName)!
const routed = samples.get(routerName)!
const rows = [baseName, routerName].map((name) => {
  const s = samples.get(name)!
  return {
    name,
    qps: median(s.map((x) => x.qps)),
    cpuPerQuery: median(s.map((x) => x.cpuPerQuery)),
  }
})
const ratio = rows[1]!.qps / rows[0]!.qps
// Per repetition, the router against the plain pool run next to it.
const pairRatios = routed.map((s, i) => s.qps / base[i]!.qps)
if (values.json) {
  console.log(JSON.stringify({ connections, concurrency, runMs, reps, rows, ratio, pairRatios, perEndpoint }))
} else {
  console.log(
    `SELECT 1, ${connections} connections in total, ${concurrency} queries in flight, ${reps} x ${runMs} ms`,
  )
  for (const row of rows) {
    console.log(
      `  ${row.name.padEnd(42)} ${row.qps.toFixed(0).padStart(7)} queries/s  ${row.cpuPerQuery.toFixed(1).padStart(6)} µs CPU/query`,
    )
  }
  console.log(
    `  ratio (median queries/s): ${ratio.toFixed(3)}; per repetition: ${pairRatios.map((r) => r.toFixed(3)).join(', ')}`,
  )
  console.log(`  CPU per query, router / plain: ${(rows[1]!.cpuPerQuery / rows[0]!.cpuPerQuery).toFixed(3)}`)
  console.log(`  router queries per endpoint: ${perEndpoint.join(', ')}`)
}
