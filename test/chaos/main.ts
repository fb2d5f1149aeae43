// The chaos suite: GET and POST loops through one client with its defaults while the lab kills,
// hangs, slows, 5xx-es and black-holes pods, stops its DNS server, scales the service and
// reschedules a pod, one phase after another and then all at once. Prints a row per phase.
//   npm run chaos [-- --phase-seconds 5 --deadline 1000 --ttl 5 --json]
// Traffic goes only to the lab's pods and DNS server on 127.x, in a private network namespace
// when the machine allows it (otherwise the black-hole phase is skipped).
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { runInPrivateNetwork } from '../../lab/private-network.js'
import type { BalancerName } from '../../src/index.js'
import { CHAOS_DEFAULTS, runChaos } from './chaos-suite.js'
import { tableFooter, tableHeader, tableRow } from './chaos-table.js'

if (runInPrivateNetwork(fileURLToPath(import.meta.url))) {
  const { values } = parseArgs({
    options: {
      'phase-seconds': { type: 'string', default: String(CHAOS_DEFAULTS.phaseMs / 1_000) },
      'max-requests': { type: 'string', default: String(CHAOS_DEFAULTS.maxRequests) },
      deadline: { type: 'string', default: String(CHAOS_DEFAULTS.deadlineMs) },
      'service-ms': { type: 'string', default: String(CHAOS_DEFAULTS.serviceMs) },
      loops: { type: 'string', default: String(CHAOS_DEFAULTS.getLoops + CHAOS_DEFAULTS.postLoops) },
      replicas: { type: 'string', default: String(CHAOS_DEFAULTS.replicas) },
      ttl: { type: 'string', default: String(CHAOS_DEFAULTS.ttl) },
      // A balancer other than the default, to compare.
      balancer: { type: 'string' },
      json: { type: 'boolean' },
    },
  })
  const loops = Number(values.loops)
  const options = {
    phaseMs: Number(values['phase-seconds']) * 1_000,
    maxRequests: Number(values['max-requests']),
    deadlineMs: Number(values.deadline),
    serviceMs: Number(values['service-ms']),
    getLoops: Math.ceil(loops / 2),
    postLoops: Math.floor(loops / 2),
    replicas: Number(values.replicas),
    ttl: Number(values.ttl),
  }
  for (const [name, value] of Object.entries(options)) {
    if (!(Number.isFinite(value) && value >= 0))
      throw new RangeError(`--${name} must be a number >= 0, got ${value}`)
  }
  if (options.replicas < 5) throw new RangeError(`--replicas must be at least 5, got ${options.replicas}`)
  console.log(
    `chaos: ${options.replicas} pods answering in ${options.serviceMs} ms (TTL ${options.ttl} s), ` +
      `${options.getLoops} GET + ${options.postLoops} POST loops, each request under AbortSignal.timeout(${options.deadlineMs}), ` +
      `${options.phaseMs / 1_000} s per phase; the client with its defaults${values.balancer ? ` and balancer ${values.balancer}` : ''}`,
  )
  console.log(tableHeader())
  const client =
    values.balancer === undefined ? {} : { client: { balancer: values.balancer as BalancerName } }
  runChaos({ ...options, ...client, onPhase: (row) => console.log(tableRow(row)) }).then(
    (report) => {
      console.log(tableFooter(report))
      if (values.json) console.log(JSON.stringify(report))
      for (const reason of report.unhandledRejections) console.error('unhandled rejection:', reason)
    },
    (error: unknown) => {
      console.error(error)
      process.exitCode = 1
    },
  )
}
