import { spawnSync } from 'node:child_process'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { describe, expect, it, type TestContext } from 'vitest'

const root = fileURLToPath(new URL('../../../', import.meta.url))
const probe = fileURLToPath(new URL('./fixtures/async-context-probe.ts', import.meta.url))

/**
 * The probe in a child process: requests through createClient imported from `entry`. Skips the
 * test on a Node without the internal module it inspects.
 */
function frameIsFast(entry: string, context: TestContext): boolean {
  const child = spawnSync(
    process.execPath,
    [
      '--expose-internals',
      '--allow-natives-syntax',
      '--import',
      pathToFileURL(`${root}scripts/ts-resolve.mjs`).href,
      probe,
    ],
    {
      env: { ...process.env, ENTRY: pathToFileURL(`${root}${entry}`).href, REQUESTS: '300' },
      encoding: 'utf8',
      // spawnSync blocks the test's own timeout: a child that never exits must not hang the run.
      timeout: 45_000,
    },
  )
  if (child.status !== 0 && /internal\/async_context_frame/.test(child.stderr)) context.skip()
  expect(child.status, child.stderr).toBe(0)
  return (JSON.parse(child.stdout) as { fast: boolean }).fast
}

// Node 24 turned the async context frame on by default; before it the class is never swapped.
const major = Number(process.versions.node.split('.')[0])

describe.skipIf(major < 24)('the root entry settles Node async context frame', () => {
  it('leaves Node active async context frame class with fast properties after requests', (context) => {
    expect(frameIsFast('src/index.ts', context)).toBe(true)
  }, 60_000)
})
