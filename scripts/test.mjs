// Runs vitest inside a private network namespace when this machine allows it (root and
// `unshare --net`), so the lab can black-hole pod addresses with firewall rules that touch
// nothing outside the test run. Elsewhere it runs vitest as it is, and the tests that need
// the namespace skip with a one-line reason.
import { spawnSync } from 'node:child_process'

const args = process.argv.slice(2)
const env = { ...process.env }

function run(command, commandArgs) {
  const result = spawnSync(command, commandArgs, { stdio: 'inherit', env })
  if (result.error) throw result.error
  process.exit(result.status ?? 1)
}

if (env.HLB_NETNS === undefined) {
  const probe = spawnSync('unshare', ['--net', '--', 'ip', 'link', 'set', 'lo', 'up'], { encoding: 'utf8' })
  if (probe.status === 0) {
    env.HLB_NETNS = 'private'
    run('unshare', [
      '--net',
      '--',
      'sh',
      '-c',
      'ip link set lo up && exec vitest run "$@"',
      'vitest',
      ...args,
    ])
  }
  env.HLB_NETNS = 'host'
  env.HLB_NETNS_REASON = `unshare --net failed: ${(probe.stderr || probe.error?.message || 'unknown').trim().split('\n')[0]}`
}
run('vitest', ['run', ...args])
