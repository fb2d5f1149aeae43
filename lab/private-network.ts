import { spawnSync } from 'node:child_process'

/**
 * For scripts that start a lab (the demo, benchmarks): re-runs the current script inside
 * `unshare --net` with its own loopback, as the tests do (scripts/test.mjs), so lab addresses
 * and ports cannot clash with anything on the host and black-holing is possible. Returns true
 * in the process that should do the work; in the parent it waits for the child and exits with
 * its status. Where the machine does not allow a namespace, it returns true at once and the
 * script runs on the host's loopback.
 */
export function runInPrivateNetwork(script: string): boolean {
  if (process.env.HLB_NETNS !== undefined) return true
  const probe = spawnSync('unshare', ['--net', '--', 'ip', 'link', 'set', 'lo', 'up'])
  if (probe.status !== 0) {
    process.env.HLB_NETNS = 'host'
    return true
  }
  const child = spawnSync(
    'unshare',
    [
      '--net',
      '--',
      'sh',
      '-c',
      'ip link set lo up && exec "$@"',
      'sh',
      process.execPath,
      ...process.execArgv,
      script,
      ...process.argv.slice(2),
    ],
    { stdio: 'inherit', env: { ...process.env, HLB_NETNS: 'private' } },
  )
  process.exit(child.status ?? 1)
}
