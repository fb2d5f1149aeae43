import { describe, expect, it } from 'vitest'
import { classify, type PodResult, renderTable } from '../../../src/cli/check.js'

function pod(name: string, over: Partial<PodResult> = {}): PodResult {
  return {
    id: name,
    name,
    address: '10.0.0.1',
    port: 8080,
    status: 'ok',
    httpStatus: 200,
    p50: 1,
    p99: 2,
    requests: 5,
    errors: 0,
    lastError: undefined,
    ...over,
  }
}

describe('check verdicts and table', () => {
  it('slow is relative to the other pods (3 x the median p50, at least 50 ms) unless --slow is given', () => {
    const results = [
      pod('web-0'),
      pod('web-1', { p50: 300, p99: 310 }),
      pod('web-2', { errors: 5, httpStatus: 503, lastError: 'status 503' }),
      pod('web-3', { errors: 5, httpStatus: 0, p50: null, p99: null, lastError: 'ECONNREFUSED' }),
      pod('web-4', { p50: 40 }),
    ]
    classify(results, undefined)
    expect(results.map((r) => r.status)).toEqual(['ok', 'slow', 'failing', 'down', 'ok'])
    classify(results, 20)
    expect(results.map((r) => r.status)).toEqual(['ok', 'slow', 'failing', 'down', 'slow'])
  })

  it('marks new pods, changed rows and gone pods between rounds', () => {
    const before = [pod('web-0'), pod('web-1'), pod('web-2')]
    const after = [pod('web-0'), pod('web-1', { status: 'failing', errors: 2 }), pod('web-3')]
    const table = renderTable(after, before)
    const lines = table.trimEnd().split('\n')
    expect(lines[0]).toMatch(/^\s+POD\s+ADDRESS\s+STATUS\s+HTTP\s+P50\s+P99\s+ERRORS$/)
    expect(lines.slice(1).map((l) => `${l[0]} ${l.slice(1).trim().split(/\s+/)[0]}`)).toEqual([
      '  web-0',
      '* web-1',
      '+ web-3',
      '- web-2',
    ])
    expect(renderTable(after).split('\n')[0]).toMatch(/^POD /)
  })
})
