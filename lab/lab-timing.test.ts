import { Resolver } from 'node:dns/promises'
import { describe, expect, it } from 'vitest'
import { startLab } from './index.js'

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

const fmt = (ms: number): string => `${ms.toFixed(1)} ms`

// Measures, does not assert timings (the machine is shared): the figures go to docs/lab.md.
describe('lab timings (printed, not asserted)', () => {
  it('start-up, and the time from a change to an outside resolver seeing it', async () => {
    const t0 = performance.now()
    await using lab = await startLab()
    const started = performance.now() - t0
    const t1 = performance.now()
    const svc = await lab.addService({ name: 'timed', kind: 'headless', replicas: 3 })
    const added = performance.now() - t1

    const dns = new Resolver({ timeout: 250, tries: 4 })
    dns.setServers([lab.dnsServer])
    const name = 'timed.default.svc.cluster.local'
    const pod = svc.pods[2]!
    const seen: number[] = []
    const resolved: number[] = []
    for (let i = 0; i < 20; i++) {
      const ready = i % 2 === 1
      const want = ready ? 3 : 2
      const start = performance.now()
      const change = pod.setReady(ready)
      // Poll from outside until the answer shows the change (deadline 2 s, the bound).
      let sawAt = Number.NaN
      while (performance.now() - start < 2000) {
        const answer = await dns.resolve4(name).catch(() => [])
        if (answer.length === want) {
          sawAt = performance.now() - start
          break
        }
      }
      await change
      resolved.push(performance.now() - start)
      expect(sawAt).not.toBeNaN()
      seen.push(sawAt)
    }
    console.log(
      `lab timings: startLab ${fmt(started)}, addService(3 pods) ${fmt(added)}; change -> served (outside resolver, n=20): median ${fmt(percentile(seen, 50))}, p95 ${fmt(percentile(seen, 95))}, max ${fmt(Math.max(...seen))}; change promise resolved: median ${fmt(percentile(resolved, 50))}, max ${fmt(Math.max(...resolved))}`,
    )
  })
})
