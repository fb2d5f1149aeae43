// Every ```ts block in README.md and docs/*.md is type-checked against the real sources
// (STYLE.md rule 11). Each block is written to a temporary .ts file inside the repository (so
// node_modules resolves as it does for the code), `headless-lb` is mapped to src/index.ts by a
// generated tsconfig that extends the project's, and tsc runs once over all of them.
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { extractSnippets, type Snippet, snippetSource } from './extract-snippets.js'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')
const docFiles = [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`),
  ...readdirSync(join(root, 'examples'), { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(root, 'examples', entry.name, 'README.md')))
    .map((entry) => `examples/${entry.name}/README.md`)
    .sort(),
]
const snippets = docFiles.flatMap((file) => extractSnippets(file, readFileSync(join(root, file), 'utf8')))
const checked = snippets.filter((s) => s.skip === undefined)

// A block that is wrong on purpose, compiled in the same run: if it ever passes, the check is not
// looking at the real API (a broken `paths` mapping would make every import `any`).
const CANARY: Snippet = {
  file: '(canary)',
  line: 1,
  prelude: [],
  dir: '',
  code: "import { createPool } from 'headless-lb'\ncreatePool({ servise: 'web' })",
}

interface Diagnostic {
  readonly line: number
  readonly syntax: boolean
  readonly text: string
}

let dir = ''
const diagnostics = new Map<string, Diagnostic[]>()
let tscOutput = ''

function key(s: Snippet): string {
  return `${s.file}:${s.line}`
}

interface Entry {
  readonly name: string
  readonly snippet: Snippet
  readonly codeOffset: number
}

beforeAll(async () => {
  // A dot-directory at the root: outside tsconfig.json's and biome.json's includes, so a parallel
  // `tsc -p .` or `biome check .` never sees these files.
  dir = mkdtempSync(join(root, '.doc-snippets-'))
  const entries: Entry[] = [...checked, CANARY].map((snippet, index) => {
    const name = `snippet-${index}.ts`
    // A relative import means "from the block's directory": point it there from the temp dir.
    const { text, codeOffset } = snippetSource(snippet, (specifier) => {
      const target = relative(dir, resolve(root, snippet.dir, specifier))
        .split(sep)
        .join('/')
      return target.startsWith('.') ? target : `./${target}`
    })
    writeFileSync(join(dir, name), text)
    return { name, snippet, codeOffset }
  })
  const first = await compile(entries)
  // tsc reports only syntax errors when there are any, and type-checks nothing: a second run
  // without the blocks that do not parse checks the others (only when a doc is already broken).
  const unparsable = new Set([...first.keys()].filter((k) => first.get(k)?.some((d) => d.syntax)))
  const second =
    unparsable.size > 0 ? await compile(entries.filter((e) => !unparsable.has(key(e.snippet)))) : first
  for (const [k, list] of second) diagnostics.set(k, list)
  for (const k of unparsable) diagnostics.set(k, first.get(k) ?? [])
}, 120_000)

async function compile(entries: readonly Entry[]): Promise<Map<string, Diagnostic[]>> {
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      extends: '../tsconfig.json',
      compilerOptions: {
        paths: {
          'headless-lb': ['../src/index.ts'],
          'headless-lb/pg': ['../src/pg/index.ts'],
          'headless-lb/ioredis': ['../src/ioredis/index.ts'],
          'headless-lb/grpc': ['../src/grpc/index.ts'],
        },
        noEmit: true,
      },
      files: entries.map((e) => e.name),
      include: [],
    }),
  )
  // The project's TypeScript (7), not whatever tsc is on PATH; the package exports no bin path.
  const tsc = join(root, 'node_modules/typescript/bin/tsc')
  const output = await new Promise<string>((done) => {
    execFile(
      process.execPath,
      // --listFiles: the test checks that `headless-lb` really is src/index.ts.
      [tsc, '-p', join(dir, 'tsconfig.json'), '--pretty', 'false', '--listFiles'],
      { cwd: root, maxBuffer: 16 * 1024 * 1024 },
      // tsc exits non-zero when it finds errors: its output is what we read either way.
      (_error, stdout, stderr) => done(`${stdout}${stderr}`),
    )
  })
  tscOutput += output
  const found = new Map<string, Diagnostic[]>()
  const byName = new Map(entries.map((e) => [e.name, e]))
  let last: Diagnostic[] | undefined
  for (const raw of output.split('\n')) {
    const m = /^(.*?)\((\d+),(\d+)\): (error TS(\d+).*)$/.exec(raw)
    if (!m) {
      // Continuation lines of a multi-line message belong to the diagnostic above.
      if (last && /^\s+\S/.test(raw)) last[last.length - 1] = withMore(last[last.length - 1], raw)
      continue
    }
    const entry = byName.get(relative(dir, resolve(root, m[1] ?? '')))
    const fileLine = Number(m[2])
    const col = m[3]
    const syntax = (m[5] ?? '').length === 4 && (m[5] ?? '').startsWith('1')
    let k = '*'
    let line = 0
    let where = `${m[1]}(${fileLine},${col})` // an error in the sources themselves
    if (entry) {
      k = key(entry.snippet)
      const codeLine = fileLine - entry.codeOffset
      line = codeLine >= 1 ? entry.snippet.line + codeLine - 1 : 0
      where =
        codeLine >= 1
          ? `${entry.snippet.file}:${line}:${col}`
          : `${entry.snippet.file} prelude of the block at line ${entry.snippet.line}`
    }
    const list = found.get(k) ?? []
    list.push({ line, syntax, text: `${where}: ${m[4]}` })
    found.set(k, list)
    last = list
  }
  return found
}

function withMore(d: Diagnostic | undefined, more: string): Diagnostic {
  return { line: d?.line ?? 0, syntax: d?.syntax ?? false, text: `${d?.text ?? ''}\n${more}` }
}

afterAll(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true })
})

describe('doc snippets', () => {
  it('finds the ts blocks of README.md and docs/*.md', () => {
    expect(docFiles).toContain('README.md')
    expect(checked.length).toBeGreaterThan(0)
  })

  it('every skip says why', () => {
    const bare = snippets.filter((s) => s.skip === '').map(key)
    expect(bare, 'write <!-- snippet: skip (reason) -->').toEqual([])
  })

  it('the check sees the real API (a wrong option name is caught)', () => {
    expect(tscOutput).not.toMatch(/error TS(5\d{3}|6\d{3})/) // config errors would void the run
    expect(tscOutput.split('\n').map((f) => resolve(f.trim()))).toContain(join(root, 'src/index.ts'))
    expect(
      diagnostics
        .get(key(CANARY))
        ?.map((d) => d.text)
        .join('\n') ?? '',
    ).toMatch(/servise/)
    expect(diagnostics.get('*') ?? []).toEqual([])
  })

  it.each(checked.map((s) => [key(s), s] as const))('%s type-checks', (_name, snippet) => {
    const found = diagnostics.get(key(snippet)) ?? []
    expect(found.map((d) => d.text).join('\n')).toBe('')
  })
})
