import { beforeAll, describe, expect, it } from 'vitest'
import { type ChaosReport, runChaos } from '../chaos/chaos-suite.js'
import { tableFooter, tableHeader, tableRow } from '../chaos/chaos-table.js'

// The chaos suite's short variant (npm run chaos is the long one): the client with its defaults
// under GET and POST load while the lab kills, hangs, slows, 5xx-es and black-holes pods, stops
// DNS, scales and reschedules, one phase after another and then all at once, closed under load.
// Two seconds per phase (six for the gray ones); the table is printed so a CI log shows the figures.
let report: ChaosReport

beforeAll(async () => {
  const lines = [tableHeader()]
  report = await runChaos({
    phaseMs: 2_000,
    // A gray phase loses up to one 1 s deadline per loop before the pod is known stalled: 6 s
    // keeps that first wave from being most of what the ratio measures.
    grayPhaseMs: 6_000,
    maxRequests: 20_000,
    ttl: 1,
    settleMs: 10_000,
    onPhase: (row) => lines.push(tableRow(row)),
  })
  lines.push(tableFooter(report))
  console.log(lines.join('\n'))
}, 120_000)

describe('chaos: faults one after another, then combined, with the client defaults', () => {
  it('no POST reaches a pod twice, in any phase', () => {
    expect(report.phases.map((p) => [p.name, p.duplicatePosts])).toEqual(
      report.phases.map((p) => [p.name, 0]),
    )
  })

  it('every request settles by its deadline, and none is pending after close() under the combined faults', () => {
    expect(report.phases.map((p) => [p.name, p.pendingAtEnd])).toEqual(report.phases.map((p) => [p.name, 0]))
    expect(report.pendingAfterClose).toBe(0)
  })

  it('no unhandled rejection', () => {
    expect(report.unhandledRejections).toEqual([])
  })

  it('every phase ran, and the loops were busy in each', () => {
    for (const phase of report.phases.filter((p) => p.skipped === undefined))
      expect(phase.sent).toBeGreaterThan(0)
    expect(report.phases.find((p) => p.name === 'healthy')?.ok).toBeGreaterThan(500)
  })

  it('each gray fault (hang, slow, black hole) keeps at least 0.6 of the healthy throughput', () => {
    const gray = report.phases.filter((p) => p.gray && p.skipped === undefined)
    expect(gray.length).toBeGreaterThan(0)
    for (const phase of gray) expect(phase.ratioToHealthy, phase.name).toBeGreaterThanOrEqual(0.6)
  })
})
