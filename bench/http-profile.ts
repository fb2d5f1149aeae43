// Where the CPU time of a request goes, in time (not instructions): each variant of
// bench/http-client-loop.ts runs alone, sampled by `perf record -e cpu-clock` (10 kHz) during its
// measured run only, and every function's samples become µs per request. The first variant is the
// baseline; the table lists the functions whose time per request differs the most from it.
//
//   npx node --import ./scripts/ts-resolve.mjs bench/http-profile.ts
//     [--variants balanced,client] [--seconds 5] [--top 40] [--balancer peak-ewma] [--hedge]
//     [--connections 16] [--pipelining 1]
//
// cpu-clock is a software event: it works on a VM without hardware counters (this one), where
// `perf stat -e instructions` is "not supported". JavaScript functions are named through V8's
// --perf-basic-prof map; V8's builtins (IC handlers, allocation, write barriers) are named from
// the node binary. A sample costs time, so perf makes every variant a little slower; compare the
// variants with each other, and read the totals with bench/http-throughput.ts.
// Needs perf (Debian's linux-perf). V8 leaves its /tmp/perf-<pid>.map files behind.
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs, promisify } from 'node:util'
import { runInPrivateNetwork } from '../lab/private-network.js'

if (!runInPrivateNetwork(fileURLToPath(import.meta.url))) process.exit(0)

const run = promisify(execFile)
const { values } = parseArgs({
  options: {
    variants: { type: 'string', default: 'balanced,client' },
    seconds: { type: 'string', default: '5' },
    top: { type: 'string', default: '40' },
    balancer: { type: 'string', default: 'peak-ewma' },
    hedge: { type: 'boolean' },
    // The shape, as in http-client-loop.ts (16 connections without pipelining by default).
    connections: { type: 'string', default: '16' },
    pipelining: { type: 'string', default: '1' },
  },
})
const SAMPLE_US = 100 // 10 kHz
const loopScript = fileURLToPath(new URL('./http-client-loop.ts', import.meta.url))

/** µs per request by function (`dso symbol`) and by where the code lives (JIT, node, kernel...). */
interface Profile {
  readonly variant: string
  readonly cpuUs: number
  readonly byFunction: Map<string, number>
  readonly byPlace: Map<string, number>
}

async function profile(variant: string, dir: string): Promise<Profile> {
  const file = join(dir, `${variant}.data`)
  const args = [
    '--perf-basic-prof',
    ...process.execArgv,
    loopScript,
    '--variant',
    variant,
    '--seconds',
    values.seconds,
    '--warmup',
    '2',
    '--balancer',
    values.balancer,
    ...(values.hedge ? ['--hedge'] : []),
    '--connections',
    values.connections,
    '--pipelining',
    values.pipelining,
    '--perf',
    file,
  ]
  const { stdout } = await run(process.execPath, args, { maxBuffer: 1 << 24 })
  const result = JSON.parse(stdout.split('\n').find((line) => line.startsWith('{')) ?? '{}') as {
    ok: number
    cpuUsPerRequest: number
  }
  const report = await run(
    'perf',
    ['report', '-i', file, '--no-children', '--sort', 'dso,sym', '--stdio', '-n', '-t', ';'],
    { maxBuffer: 1 << 28 },
  )
  const byFunction = new Map<string, number>()
  const byPlace = new Map<string, number>()
  for (const line of report.stdout.split('\n')) {
    if (line.startsWith('#')) continue
    const fields = line.split(';')
    if (fields.length < 4) continue
    const samples = Number(fields[1]!.trim())
    if (!Number.isFinite(samples)) continue
    const dso = fields[2]!.trim()
    const place = dso.startsWith('[JIT]') ? 'JIT (JavaScript, wasm)' : dso
    // `[.] JS:*'name file:line:col`: the tier marks (*, ~, +, ^) and quotes are dropped, so that a
    // function's time is one row whichever tier ran it.
    const name = fields
      .slice(3)
      .join(';')
      .trim()
      .replace(/^\[.\]\s+/, '')
      .replace(/^JS:[*~+^]?'?/, 'JS:')
    const us = (samples * SAMPLE_US) / result.ok
    byFunction.set(name, (byFunction.get(name) ?? 0) + us)
    byPlace.set(place, (byPlace.get(place) ?? 0) + us)
  }
  return { variant, cpuUs: result.cpuUsPerRequest, byFunction, byPlace }
}

const dir = await mkdtemp(join(tmpdir(), 'hlb-profile-'))
try {
  const profiles: Profile[] = []
  for (const variant of values.variants.split(',')) profiles.push(await profile(variant, dir))
  const [base, ...others] = profiles as [Profile, ...Profile[]]
  const head = (label: string) =>
    `  ${label.padEnd(70)} ${profiles.map((p) => p.variant.padStart(10)).join(' ')}  ${others.map((p) => `${p.variant} - ${base.variant}`.padStart(20)).join(' ')}`
  const row = (label: string, of: (p: Profile) => number) =>
    `  ${label.slice(0, 70).padEnd(70)} ${profiles.map((p) => of(p).toFixed(3).padStart(10)).join(' ')}  ${others.map((p) => (of(p) - of(base)).toFixed(3).padStart(20)).join(' ')}`
  const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0)
  console.log(
    `\nµs per request (perf cpu-clock samples in the measured ${values.seconds} s, perf's own cost included)`,
  )
  console.log(head('where'))
  console.log(row('CPU time (process.cpuUsage, all threads)', (p) => p.cpuUs))
  console.log(row('sampled, main and worker threads', (p) => sum(p.byFunction)))
  const places = new Set(profiles.flatMap((p) => [...p.byPlace.keys()]))
  for (const place of [...places].sort((a, b) => (base.byPlace.get(b) ?? 0) - (base.byPlace.get(a) ?? 0)))
    console.log(row(place, (p) => p.byPlace.get(place) ?? 0))
  const names = new Set(profiles.flatMap((p) => [...p.byFunction.keys()]))
  const spread = (name: string) => {
    const values = profiles.map((p) => p.byFunction.get(name) ?? 0)
    return Math.max(...values) - Math.min(...values)
  }
  const top = [...names].sort((a, b) => spread(b) - spread(a)).slice(0, Number(values.top))
  console.log(`\n${head(`the ${top.length} functions that differ most`)}`)
  for (const name of top) console.log(row(name, (p) => p.byFunction.get(name) ?? 0))
  // The project's own functions, whatever their difference: the layer itself.
  const own = [...names].filter((n) => n.includes('/src/'))
  if (own.length > 0) {
    console.log(`\n${head('headless-lb (src/), self time')}`)
    console.log(row('all of src/', (p) => own.reduce((a, n) => a + (p.byFunction.get(n) ?? 0), 0)))
    for (const name of own.sort((a, b) => spread(b) - spread(a)).slice(0, 15))
      console.log(row(name.replace(/file:\/\/\S*\/src\//, 'src/'), (p) => p.byFunction.get(name) ?? 0))
  }
} finally {
  await rm(dir, { recursive: true, force: true })
}
