import { type ChildProcess, spawn } from 'node:child_process'
import { readdir, readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'

const resolveHook = fileURLToPath(new URL('../../scripts/ts-resolve.mjs', import.meta.url))

/**
 * A separate Node process that runs `body` (module code that sets `const dir`, the temp dir of
 * what it started) and then dies without cleaning up: `how` 'exit' = process.exit, 'sigkill' =
 * waits to be killed. `started` resolves with that dir. Node 24 strips the types; the
 * repository's resolve hook maps the sources' `.js` specifiers to their `.ts` files.
 */
export function orphanInChild(
  body: string,
  how: 'exit' | 'sigkill',
): { child: ChildProcess; started: Promise<{ dir: string }> } {
  const script = `
    ${body}
    console.log(JSON.stringify({ dir }))
    if (${JSON.stringify(how)} === 'exit') process.exit(3)
    setInterval(() => {}, 1000)
  `
  const child = spawn(
    process.execPath,
    ['--import', resolveHook, '--input-type=module', '--no-warnings', '-e', script],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
  const started = new Promise<{ dir: string }>((resolve, reject) => {
    let out = ''
    child.stdout!.setEncoding('utf8').on('data', (c: string) => {
      out += c
      const line = out.split('\n').find((l) => l.startsWith('{'))
      if (line) resolve(JSON.parse(line) as { dir: string })
    })
    child.once('exit', (code) => reject(new Error(`child exited (${code}) before it started: ${out}`)))
  })
  return { child, started }
}

/** Pids of processes whose command line mentions `text` (a config or data dir path). */
export async function processesMentioning(text: string): Promise<number[]> {
  const pids: number[] = []
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8')
      if (cmdline.includes(text)) pids.push(Number(entry))
    } catch {}
  }
  return pids
}
