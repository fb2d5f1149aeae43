// Runs vitest inside a private network namespace when this machine allows it (root and
// `unshare --net`), so the lab can black-hole pod addresses with firewall rules that touch
// nothing outside the test run. Elsewhere it runs vitest as it is, and the tests that need
// the namespace skip with a one-line reason. Ends with one plain summary line
// (`tests: N passed, N failed, N skipped`) that any CI log reader understands.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const reportDir = mkdtempSync(join(tmpdir(), 'hlb-test-report-'))
const report = join(reportDir, 'vitest.json')
const vitestArgs = [
  'run',
  '--reporter=default',
  '--reporter=json',
  `--outputFile.json=${report}`,
  ...process.argv.slice(2),
]
// node_modules/.bin first, as npm scripts have it, so `node scripts/test.mjs` works on its own too.
const bin = join(dirname(fileURLToPath(import.meta.url)), '..', 'node_modules', '.bin')
const env = { ...process.env, PATH: `${bin}${delimiter}${process.env.PATH ?? ''}` }

function vitest() {
  if (env.HLB_NETNS === undefined) {
    const probe = spawnSync('unshare', ['--net', '--', 'ip', 'link', 'set', 'lo', 'up'], { encoding: 'utf8' })
    if (probe.status === 0) {
      env.HLB_NETNS = 'private'
      return spawnSync(
        'unshare',
        ['--net', '--', 'sh', '-c', 'ip link set lo up && exec vitest "$@"', 'vitest', ...vitestArgs],
        {
          stdio: 'inherit',
          env,
        },
      )
    }
    env.HLB_NETNS = 'host'
    env.HLB_NETNS_REASON = `unshare --net failed: ${(probe.stderr || probe.error?.message || 'unknown').trim().split('\n')[0]}`
  }
  return spawnSync('vitest', vitestArgs, { stdio: 'inherit', env })
}

const result = vitest()
let status = result.error ? 1 : (result.status ?? 1)
try {
  const summary = JSON.parse(readFileSync(report, 'utf8'))
  const skipped = (summary.numPendingTests ?? 0) + (summary.numTodoTests ?? 0)
  console.log(`tests: ${summary.numPassedTests} passed, ${summary.numFailedTests} failed, ${skipped} skipped`)
  if (summary.numTotalTests === 0) {
    console.log('tests: no test ran')
    status = 1
  }
} catch (error) {
  console.log(`tests: no report from vitest (${error.message})`)
  status = status || 1
} finally {
  rmSync(reportDir, { recursive: true, force: true })
}
if (result.error) console.error(result.error)
process.exit(status)
