// Instructions per request, counted by valgrind (callgrind), for variants of
// bench/http-client-loop.ts: a figure that does not move with the machine's load. On a shared
// 2-core VM the CPU time per request of bench/http-throughput.ts swings by 10 % and more between
// runs; an instruction count is the same to about 1 % run after run.
//
//   npx node --import ./scripts/ts-resolve.mjs bench/http-instructions.ts
//     [--variants balanced,pools,client] [--requests 2000] [--warmup 10000] [--balancer peak-ewma] [--hedge]
//
// Each variant runs twice under callgrind, after the same warm-up: once with --requests and once
// with three times as many. The difference of the two totals over the difference of the request
// counts is the cost of a request in steady state (start-up, warm-up and the lab cancel out).
// It is split by where the instructions ran: JavaScript compiled by V8 and its builtins (the code
// of the request path itself), the optimizing compilers (still at work on a slow, instrumented
// run), the garbage collector, and the rest (V8's runtime, Node, libuv, libc).
//
// What it does not count: the kernel's work (system calls, the loopback), and time lost to cache
// and TLB misses. A variant with fewer instructions can still take more time; read it with
// bench/http-throughput.ts, not instead of it. Needs valgrind (Debian's package); each variant
// takes about two minutes here.
import { execFile } from 'node:child_process'
import { rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs, promisify } from 'node:util'
import { runInPrivateNetwork } from '../lab/private-network.js'

if (!runInPrivateNetwork(fileURLToPath(import.meta.url))) process.exit(0)

const run = promisify(execFile)
const { values } = parseArgs({
  options: {
    variants: { type: 'string', default: 'balanced,pools,client' },
    requests: { type: 'string', default: '2000' },
    warmup: { type: 'string', default: '10000' },
    balancer: { type: 'string', default: 'peak-ewma' },
    json: { type: 'boolean' },
    // Also simulate the caches (callgrind's --cache-sim: L1 and last level, as the host's): misses
    // per request, a deterministic stand-in for the time lost to memory.
    cache: { type: 'boolean' },
    // Also simulate branch prediction (callgrind's --branch-sim): mispredicted conditional and
    // indirect branches per request. Polymorphic call sites (one callback called on several
    // handler classes) cost mispredicted indirect branches that an instruction count does not show.
    branches: { type: 'boolean' },
    // The client with hedging on (http-client-loop.ts --hedge).
    hedge: { type: 'boolean' },
  },
})
const requests = Number(values.requests)
const warmup = Number(values.warmup)
const loopScript = fileURLToPath(new URL('./http-client-loop.ts', import.meta.url))

type Part = 'js' | 'compiler' | 'gc' | 'rest'
interface Count {
  readonly total: number
  readonly parts: Record<Part, number>
  /** With --cache: instruction-fetch, data and last-level misses. */
  readonly misses: { readonly i1: number; readonly d1: number; readonly ll: number } | null
  /** With --branches: mispredicted conditional and indirect branches. */
  readonly mispredicted: { readonly conditional: number; readonly indirect: number } | null
}

/** One run of the loop under callgrind: its instruction total, split by part. */
async function counted(variant: string, count: number): Promise<Count> {
  const out = join(tmpdir(), `hlb-callgrind-${process.pid}-${variant}-${count}.out`)
  const args = [
    '--tool=callgrind',
    `--callgrind-out-file=${out}`,
    ...(values.cache ? ['--cache-sim=yes'] : []),
    ...(values.branches ? ['--branch-sim=yes'] : []),
    process.execPath,
    ...process.execArgv,
    loopScript,
    '--variant',
    variant,
    '--requests',
    String(count),
    '--warmup-requests',
    String(warmup),
    '--balancer',
    values.balancer,
    ...(values.hedge ? ['--hedge'] : []),
  ]
  const { stdout } = await run('valgrind', args, { maxBuffer: 1 << 26 })
  const result = JSON.parse(stdout.split('\n').find((line) => line.startsWith('{')) ?? '{}') as {
    ok?: number
    failed?: number
  }
  if (result.ok !== count || result.failed !== 0) {
    throw new Error(`${variant}: ${result.ok} of ${count} requests succeeded, ${result.failed} failed`)
  }
  const annotated = await run('callgrind_annotate', ['--inclusive=no', '--threshold=100', out], {
    maxBuffer: 1 << 28,
  })
  await rm(out, { force: true })
  return split(annotated.stdout)
}

/**
 * A line of callgrind_annotate: its counts, one per event in the order of `Events shown`, and the
 * text after them (`file:function [object]`, or `PROGRAM TOTALS`). Each count may be followed by
 * its share in parentheses (`1,234 (12.3%)  56 ( 0.1%)`); `.` is 0.
 */
function parseLine(line: string): { counts: number[]; label: string } {
  const counts: number[] = []
  const fields = line.trim().split(/\s+/)
  let i = 0
  for (; i < fields.length; i++) {
    const field = fields[i]!
    if (/^[\d,]+$/.test(field)) counts.push(Number(field.replaceAll(',', '')))
    else if (field === '.') counts.push(0)
    else if (!/^\(|%\)$/.test(field)) break
  }
  return { counts, label: fields.slice(i).join(' ') }
}

/** The total, the parts (`rest`: what is not in the others) and, with --cache, the misses. */
function split(annotated: string): Count {
  const lines = annotated.split('\n')
  const totalsLine = lines.find((l) => l.includes('PROGRAM TOTALS'))
  const eventsLine = lines.find((l) => l.startsWith('Events shown:'))
  if (totalsLine === undefined || eventsLine === undefined)
    throw new Error('callgrind_annotate printed no total')
  const events = eventsLine.slice('Events shown:'.length).trim().split(/\s+/)
  const totals = parseLine(totalsLine).counts
  const event = (name: string) => totals[events.indexOf(name)] ?? 0
  const total = event('Ir')
  const misses = values.cache
    ? {
        i1: event('I1mr'),
        d1: event('D1mr') + event('D1mw'),
        ll: event('ILmr') + event('DLmr') + event('DLmw'),
      }
    : null
  const mispredicted = values.branches ? { conditional: event('Bcm'), indirect: event('Bim') } : null
  const parts: Record<Part, number> = { js: 0, compiler: 0, gc: 0, rest: 0 }
  for (const line of lines) {
    const { counts, label } = parseLine(line)
    // Function lines only: `file:function`, the instruction count first.
    if (counts.length === 0 || !/^\S*:/.test(label)) continue
    parts[partOf(label)] += counts[0]!
  }
  parts.rest = total - parts.js - parts.compiler - parts.gc
  return { total, parts, misses, mispredicted }
}

/** `rest` stands for everything not in the other parts (split() derives it from the total). */
function partOf(fn: string): Part {
  if (/compiler::|maglev::|turboshaft|baseline::/.test(fn)) return 'compiler'
  if (/Scaveng|Marking|MarkCompact|Sweep|Evacuat|IteratePointers|heap::base|MinorMS|GCTracer/.test(fn))
    return 'gc'
  // JIT code has no symbol (an address); V8's builtins are in the node binary as Builtins_*.
  if (/^\?\?\?:0x[0-9a-f]+ /.test(fn) || fn.includes('Builtins_')) return 'js'
  return 'rest'
}

interface Row {
  readonly variant: string
  readonly perRequest: number
  readonly parts: Record<Part, number>
  readonly misses: { readonly i1: number; readonly d1: number; readonly ll: number } | null
  readonly mispredicted: { readonly conditional: number; readonly indirect: number } | null
}

const rows: Row[] = []
for (const variant of values.variants.split(',')) {
  // The two runs of a variant side by side: one core each (callgrind runs a process on one).
  const [small, large] = await Promise.all([counted(variant, requests), counted(variant, requests * 3)])
  const n = requests * 2
  const per = (a: number, b: number) => Math.round((b - a) / n)
  const parts = {} as Record<Part, number>
  for (const part of ['js', 'compiler', 'gc', 'rest'] as const)
    parts[part] = per(small.parts[part], large.parts[part])
  const misses =
    small.misses === null || large.misses === null
      ? null
      : {
          i1: per(small.misses.i1, large.misses.i1),
          d1: per(small.misses.d1, large.misses.d1),
          ll: per(small.misses.ll, large.misses.ll),
        }
  const mispredicted =
    small.mispredicted === null || large.mispredicted === null
      ? null
      : {
          conditional: per(small.mispredicted.conditional, large.mispredicted.conditional),
          indirect: per(small.mispredicted.indirect, large.mispredicted.indirect),
        }
  rows.push({ variant, perRequest: per(small.total, large.total), parts, misses, mispredicted })
}
if (values.json) console.log(JSON.stringify(rows))
else {
  const base = rows.find((row) => row.variant === 'balanced') ?? rows[0]!
  const cell = (x: number) => String(x).padStart(8)
  console.log(
    `instructions per request (callgrind, ${requests} vs ${requests * 3} requests after ${warmup}; 16 connections, 4 pods)`,
  )
  console.log(
    `  variant      total   ratio        js  compiler        gc      rest${values.cache ? '   I1 miss   D1 miss   LL miss' : ''}${values.branches ? '  cond mis  ind mis' : ''}`,
  )
  for (const row of rows) {
    const p = row.parts
    const m = row.misses
    const b = row.mispredicted
    console.log(
      `  ${row.variant.padEnd(9)} ${cell(row.perRequest)}  ${(row.perRequest / base.perRequest).toFixed(3)}  ${[p.js, p.compiler, p.gc, p.rest].map(cell).join('  ')}${m === null ? '' : `  ${[m.i1, m.d1, m.ll].map(cell).join('  ')}`}${b === null ? '' : `  ${[b.conditional, b.indirect].map(cell).join('  ')}`}`,
    )
  }
}
