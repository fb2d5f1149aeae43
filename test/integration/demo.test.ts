import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const run = promisify(execFile)

/** The percentages printed on the rows of `label` in act 4: [success, slow pod's share]. */
function rowPercents(act: string, label: string): number[] {
  const escaped = label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  return [...act.matchAll(new RegExp(`^  ${escaped}[^\\n]*?\\s([\\d.]+) %`, 'gm'))].map((m) => Number(m[1]))
}

// The README's demo command must keep working: run the demo script as `npm run demo` does
// (Node 24 type stripping with the repository's resolve hook) and read what it claims.
describe('the demo', () => {
  it('shows ClusterIP pinning, per-request balancing, a pod killed without a failed request and a slow pod', async () => {
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
    // Every pod gets a share of the requests (600 over 3 pods), whatever the default balancer.
    const headless = stdout.slice(stdout.indexOf('\n2. Headless'), stdout.indexOf('\n3. '))
    for (const pod of ['web-0', 'web-1', 'web-2']) {
      const count = Number(headless.match(new RegExp(`${pod}\\s+(\\d+)\\b`))?.[1])
      expect(count, pod).toBeGreaterThanOrEqual(100)
    }
    // Act 4, the slow pod: both rows, each with its success rate and the slow pod's share.
    const slow = stdout.slice(stdout.indexOf('\n4. A slow pod'), stdout.indexOf('\n5. headless-lb doctor'))
    const vip = rowPercents(slow, 'ClusterIP VIP')
    const client = rowPercents(slow, 'headless-lb (defaults:')
    expect(vip, slow).toHaveLength(2)
    expect(client).toHaveLength(2)
    // headless-lb keeps the slow pod well under its fair share (a third of the requests), and its
    // success rate is at least the VIP's. Both lose about as many requests (the VIP one per
    // connection it had on the slow pod, plus a re-roll; headless-lb those sent before it learnt);
    // headless-lb answers more requests in the same time (no proxy hop), hence the ratio.
    expect(client[1]).toBeLessThan(100 / 3)
    expect(client[0], slow).toBeGreaterThanOrEqual(vip[0]!)
  })
})
