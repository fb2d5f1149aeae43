import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../../../', import.meta.url))
const probe = fileURLToPath(new URL('./fixtures/async-context-probe.ts', import.meta.url))

/** The probe in a child process: requests through createClient imported from `entry`. */
function frameIsFast(entry: string): boolean {
  const child = spawnSync(
    process.execPath,
    ['--expose-internals', '--allow-natives-syntax', '--import', `${root}scripts/ts-resolve.mjs`, probe],
    { env: { ...process.env, ENTRY: `${root}${entry}`, REQUESTS: '300' }, encoding: 'utf8' },
  )
  expect(child.status, child.stderr).toBe(0)
  return (JSON.parse(child.stdout) as { fast: boolean }).fast
}

// Node 24 turned the async context frame on by default; before it the class is never swapped.
const major = Number(process.versions.node.split('.')[0])

describe.skipIf(major < 24)('the root entry settles Node async context frame', () => {
  it('leaves Node active async context frame class with fast properties after requests', () => {
    expect(frameIsFast('src/index.ts')).toBe(true)
  }, 60_000)
})
