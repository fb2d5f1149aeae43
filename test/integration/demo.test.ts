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
  it('shows ClusterIP pinning, per-request balancing, a pod killed without a failed request, a slow pod and a failing one', async () => {
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
    // Acts 4 and 5, a sick pod: both rows, each with its success rate and the sick pod's share.
    const slow = stdout.slice(stdout.indexOf('\n4. A slow pod'), stdout.indexOf('\n5. A pod that fails fast'))
    const failing = stdout.slice(
      stdout.indexOf('\n5. A pod that fails fast'),
      stdout.indexOf('\n6. headless-lb doctor'),
    )
    for (const act of [slow, failing]) {
      const vip = rowPercents(act, 'ClusterIP VIP')
      const client = rowPercents(act, 'headless-lb (defaults:')
      expect(vip, act).toHaveLength(2)
      expect(client, act).toHaveLength(2)
      // headless-lb keeps the sick pod well under its fair share (a third of the requests).
      expect(client[1], act).toBeLessThan(100 / 3)
    }
    // The slow pod costs both sides about as many requests (a timed-out HTTP/1.1 request closes
    // its connection, so the VIP re-rolls it onto another pod): no order is asserted there. A pod
    // answering 503 keeps the VIP's connections; headless-lb retries the GETs elsewhere and ejects it.
    const vipFailing = rowPercents(failing, 'ClusterIP VIP')
    const clientFailing = rowPercents(failing, 'headless-lb (defaults:')
    expect(clientFailing[0], failing).toBeGreaterThanOrEqual(vipFailing[0]!)
  })
})
