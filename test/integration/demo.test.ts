import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const run = promisify(execFile)

// The README's demo command must keep working: run the demo script as `npm run demo` does
// (Node 24 type stripping with the repository's resolve hook) and read what it claims.
describe('the demo', () => {
  it('shows ClusterIP pinning, per-request balancing and a pod killed without a failed request', async () => {
    const { stdout } = await run(
      process.execPath,
      ['--import', './scripts/ts-resolve.mjs', 'examples/demo/demo.ts'],
      { env: process.env, timeout: 60_000 },
    )
    expect(stdout).toContain('(idle)')
    expect(stdout.match(/failed requests: 0/g)).toHaveLength(3)
    expect(stdout).toContain('event: eject web-1 (connect-refused)')
    expect(stdout).toContain('Case:    ClusterIP service')
    expect(stdout).toContain('Case:    Headless service over a StatefulSet')
    const headless = stdout.slice(stdout.indexOf('2. Headless'), stdout.indexOf('3. '))
    for (const pod of ['web-0', 'web-1', 'web-2']) expect(headless).toMatch(new RegExp(`${pod}\\s+200\\b`))
  })
})
