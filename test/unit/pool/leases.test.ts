import { describe, expect, it } from 'vitest'
import { EndpointState } from '../../../src/health/endpoint-state.js'
import type { LeaseOutcome } from '../../../src/lease.js'
import { Leases } from '../../../src/pool/leases.js'
import { endpoint } from './fakes.js'

function setup() {
  const settled: Array<[EndpointState, LeaseOutcome]> = []
  const times: number[] = []
  const leases = new Leases((state, outcome, at) => {
    settled.push([state, outcome])
    times.push(at)
  })
  const state = new EndpointState(endpoint('web-0', '127.0.10.1', 0))
  return { leases, settled, state, times }
}

describe('the pool leases', () => {
  it('count a request in flight and waiting until it is released, then pass its outcome on', () => {
    const { leases, settled, state } = setup()
    const lease = leases.take(state)
    expect(lease.endpoint).toBe(state.endpoint)
    expect([state.inFlight, state.requests, state.waiting]).toEqual([1, 1, 1])
    const ok = { ok: true, latency: 4 } as const
    lease.release(ok)
    expect([state.inFlight, state.requests, state.waiting, state.progress]).toEqual([0, 1, 0, 1])
    expect(settled).toEqual([[state, ok]])
  })

  it("pass on the caller's time of the answer with releaseAnswered, and none (-1) with release", () => {
    const { leases, settled, state, times } = setup()
    const lease = leases.take(state) as ReturnType<Leases['take']> & {
      releaseAnswered(latency: number, at: number): void
    }
    lease.releaseAnswered(3, 1234.5)
    expect(settled).toEqual([[state, { ok: true, latency: 3 }]])
    expect([state.inFlight, state.waiting, state.progress]).toEqual([0, 0, 1])
    leases.take(state).release({ ok: true, latency: 1 })
    expect(times).toEqual([1234.5, -1])
  })

  it('count an answer once: responded() then release() is one unit of progress', () => {
    const { leases, state } = setup()
    const lease = leases.take(state)
    lease.responded!()
    expect([state.waiting, state.progress]).toEqual([0, 1])
    lease.responded!()
    lease.release({ ok: true, latency: 1 })
    expect([state.waiting, state.progress]).toEqual([0, 1])
  })

  it('count no progress for a timeout while other requests still wait', () => {
    const { leases, state } = setup()
    const first = leases.take(state)
    leases.take(state)
    first.release({ ok: false, kind: 'timeout' })
    expect([state.waiting, state.progress]).toEqual([1, 0])
  })

  it('ignore a second release, and recycle the lease object', () => {
    const { leases, settled, state } = setup()
    const lease = leases.take(state)
    lease.release({ ok: true, latency: 1 })
    lease.release({ ok: false, kind: 'status' })
    expect(settled).toHaveLength(1)
    expect(state.inFlight).toBe(0)
    expect(leases.take(state)).toBe(lease)
  })

  it('settle the counts but pass on nothing when the endpoint moved to a new address meanwhile', () => {
    const { leases, settled, state } = setup()
    const lease = leases.take(state)
    state.endpoint = endpoint('web-0', '127.0.10.99', 0)
    lease.release({ ok: false, kind: 'connect-refused' })
    expect(state.inFlight).toBe(0)
    expect(settled).toHaveLength(0)
  })
})
