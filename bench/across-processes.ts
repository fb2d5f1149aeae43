// Runs a benchmark script in several processes, one after another, and collects the JSON report
// each prints on its last line (`--json`). For figures that differ from process to process more
// than from repetition to repetition within one: V8's tiering, inlining and pretenuring decisions
// are made once per process, and on this VM the same code in two processes differs by up to 10 %.
import { spawn } from 'node:child_process'

/**
 * Runs `script` `count` times with `args` and `--json` (the caller leaves out its own
 * `--processes`), passes each run's table through to this process's stdout line by line, and
 * returns the reports.
 * A run that fails or prints no JSON line rejects.
 */
export async function runAcrossProcesses(
  script: string,
  args: ReadonlyArray<string>,
  count: number,
): Promise<Array<Record<string, unknown>>> {
  const reports: Array<Record<string, unknown>> = []
  for (let i = 1; i <= count; i++) {
    console.log(`\n# process ${i} of ${count}`)
    const child = spawn(process.execPath, [...process.execArgv, script, ...args, '--json'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    // Each complete line goes out as it comes; the last one is held back: it may be the report.
    let pending = ''
    let last: string | null = null
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (chunk: string) => {
      const lines = (pending + chunk).split('\n')
      pending = lines.pop() ?? ''
      for (const line of lines) {
        if (last !== null) process.stdout.write(`${last}\n`)
        last = line
      }
    })
    const status = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject)
      child.once('close', resolve)
    })
    if (pending !== '') {
      if (last !== null) process.stdout.write(`${last}\n`)
      last = pending
    }
    if (status !== 0 || last === null || !last.startsWith('{')) {
      if (last !== null) process.stdout.write(`${last}\n`)
      throw new Error(`process ${i} of ${count} exited with ${status} and no JSON report`)
    }
    reports.push(JSON.parse(last) as Record<string, unknown>)
  }
  return reports
}
