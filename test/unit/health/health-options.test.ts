import { describe, expect, it } from 'vitest'
import { type ResolvedHealthCheck, resolveHealthCheck } from '../../../src/health/health-options.js'

const SCHEDULE = {
  interval: 5_000,
  timeout: 1_000,
  jitter: 0.1,
  healthyThreshold: 1,
  unhealthyThreshold: 3,
  initialState: 'healthy',
} as const

describe('resolveHealthCheck', () => {
  it('resolves each kind to its own shape, with no field of another kind', () => {
    expect(resolveHealthCheck({ http: { path: '/ready' } })).toEqual({
      kind: 'http',
      path: '/ready',
      expectedStatus: [200, 399],
      host: undefined,
      ...SCHEDULE,
    })
    expect(resolveHealthCheck({ tcp: true })).toEqual({ kind: 'tcp', ...SCHEDULE })
    const check = async () => true
    expect(resolveHealthCheck(check)).toEqual({ kind: 'custom', check, ...SCHEDULE })
  })

  it('reports a mistake in the kind before one in the schedule', () => {
    expect(() => resolveHealthCheck({ http: { path: 'x' }, interval: -1 })).toThrow(
      /^healthCheck\.http\.path /,
    )
  })

  it('does not type-check impossible combinations', () => {
    // @ts-expect-error a TCP check has no path
    const tcpWithPath: ResolvedHealthCheck = { kind: 'tcp', path: '/x', ...SCHEDULE }
    // @ts-expect-error a custom check needs its function
    const customWithout: ResolvedHealthCheck = { kind: 'custom', ...SCHEDULE }
    expect([tcpWithPath, customWithout]).toHaveLength(2)
  })
})
