// S3, skew when nothing is wrong: how evenly each variant spreads requests over 4 healthy pods,
// as the busiest pod's requests over its fair share (1.00 is perfect) and the number of pods
// that got none. One client with 32 closed loops, then a fleet of 5 client processes with 8 loops
// each (each with its own view of the pods, as replicas of a service calling another). Side by
// side in one run: headless-lb with the README's defaults and with each balancer, undici
// BalancedPool, the ClusterIP proxy. Counted on the pods.
//
//   npx node --import ./scripts/ts-resolve.mjs bench/scenario-skew.ts [--seconds 3] [--only defaults,peak-ewma] [--json]
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { runInPrivateNetwork } from '../lab/private-network.js'
import {
  deadlineLoop,
  makeVariant,
  type ScenarioPods,
  selected,
  skew,
  startScenarioPods,
  type VariantName,
} from './scenario-support.js'

if (!runInPrivateNetwork(fileURLToPath(import.meta.url))) process.exit(0)

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    only: { type: 'string' },
    json: { type: 'boolean' },
    member: { type: 'string' },
  },
})
const runMs = Number(values.seconds) * 1_000
const DEADLINE = 2_000

if (values.member !== undefined) {
  // A fleet member: warm up, say so, run on "go", report.
  const lab = JSON.parse(process.env.HLB_SCENARIO_LAB!) as ScenarioPods
  const variant = makeVariant(values.member as VariantName, lab)
  await deadlineLoop(variant, 8, 500, DEADLINE)
  process.send?.({ ready: true })
  await once(process, 'message')
  const run = await deadlineLoop(variant, 8, runMs, DEADLINE)
  await variant.destroy()
  process.send?.({ done: run.ok, failed: run.failed })
  process.disconnect()
  process.exit(0)
}

const lab = await startScenarioPods(4)

async function single(name: VariantName) {
  await lab.reset()
  const variant = makeVariant(name, lab)
  await deadlineLoop(variant, 32, 1_000, DEADLINE)
  const before = await lab.counts()
  const run = await deadlineLoop(variant, 32, runMs, DEADLINE)
  const after = await lab.counts()
  await variant.destroy()
  const counts = after[variant.service].map((c, i) => c - before[variant.service][i]!)
  return { name: variant.name, counts, failed: run.failed, ...skew(counts) }
}

async function fleet(name: VariantName, members: number) {
  await lab.reset()
  const env = { ...process.env, HLB_SCENARIO_LAB: JSON.stringify(lab) }
  const children = Array.from({ length: members }, () =>
    fork(fileURLToPath(import.meta.url), ['--member', name, '--seconds', String(values.seconds)], {
      execArgv: process.execArgv,
      env,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  )
  await Promise.all(children.map((c) => once(c, 'message')))
  const service = makeVariant(name, lab)
  await service.destroy()
  const before = await lab.counts()
  const done = children.map((c) => once(c, 'message') as Promise<[{ done: number; failed: number }]>)
  for (const c of children) c.send({ go: true })
  const reports = await Promise.all(done)
  await Promise.all(children.map((c) => (c.exitCode === null ? once(c, 'exit') : undefined)))
  const after = await lab.counts()
  const counts = after[service.service].map((c, i) => c - before[service.service][i]!)
  return { name: service.name, counts, failed: reports.reduce((n, [r]) => n + r.failed, 0), ...skew(counts) }
}

const results: Record<string, unknown> = {}
const header = `${'variant'.padEnd(32)}${'busiest/fair'.padStart(13)}${'idle'.padStart(6)}${'failed'.padStart(8)}  requests per pod`
console.log(`4 healthy pods, one client, 32 loops, ${runMs} ms`)
console.log(header)
const names = selected(values.only)
for (const name of names) {
  const row = await single(name)
  results[`single ${row.name}`] = row
  console.log(
    `${row.name.padEnd(32)}${row.busiest.toFixed(3).padStart(13)}${String(row.idle).padStart(6)}${String(row.failed).padStart(8)}  ${row.counts.join(' ')}`,
  )
}
console.log(`\n4 healthy pods, a fleet of 5 client processes x 8 loops, ${runMs} ms`)
console.log(header)
for (const name of names) {
  const row = await fleet(name, 5)
  results[`fleet ${row.name}`] = row
  console.log(
    `${row.name.padEnd(32)}${row.busiest.toFixed(3).padStart(13)}${String(row.idle).padStart(6)}${String(row.failed).padStart(8)}  ${row.counts.join(' ')}`,
  )
}
await lab.stop()
if (values.json) console.log(JSON.stringify(results))
