// Runs a benchmark script in several processes, one after another, and collects the JSON report
// each prints on its last line (`--json`). For figures that differ from process to process more
// than from repetition to repetition within one: V8's tiering, inlining and pretenuring decisions
// are made once per process, and on this VM the same code in two processes differs by up to 10 %.
import { spawn } from 'node:child_process'

/**
 * Runs `script` `count` times with `args` and `--json` (the caller leaves out its own
 * `--processes`), streams each run's table to this process's stdout, and returns the reports.
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
    let out = ''
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (chunk: string) => {
      out += chunk
    })
    const status = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject)
      child.once('close', resolve)
    })
    const lines = out.trimEnd().split('\n')
    const last = lines.at(-1) ?? ''
    process.stdout.write(`${lines.slice(0, -1).join('\n')}\n`)
    if (status !== 0 || !last.startsWith('{')) {
      throw new Error(`process ${i} of ${count} exited with ${status} and no JSON report`)
    }
    reports.push(JSON.parse(last) as Record<string, unknown>)
  }
  return reports
}
