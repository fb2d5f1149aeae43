import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { BalancerName } from '../../../src/balancing/balancing-options.js'
import { NoEndpointsError } from '../../../src/errors.js'
import { createPool } from '../../../src/pool.js'
import { FakeClock } from '../../support/fake-clock.js'
import { FakeSource, seededRandom, statefulSet } from './fakes.js'

const settle = () => new Promise((resolve) => setImmediate(resolve))

type Op =
  | { kind: 'fail'; which: number; refused: boolean }
  | { kind: 'succeed'; which: number }
  | { kind: 'check'; which: number; passes: boolean }
  | { kind: 'advance'; ms: number }
  | { kind: 'resize'; n: number }

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('fail' as const), which: fc.nat(9), refused: fc.boolean() }),
  fc.record({ kind: fc.constant('succeed' as const), which: fc.nat(9) }),
  fc.record({ kind: fc.constant('check' as const), which: fc.nat(9), passes: fc.boolean() }),
  fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 5_000 }) }),
  fc.record({ kind: fc.constant('resize' as const), n: fc.integer({ min: 1, max: 8 }) }),
)

describe('the pool under any sequence of failures, checks, time and membership changes', () => {
  it('never picks an ejected, unhealthy or pending endpoint outside panic mode, nor a removed one ever', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<BalancerName>(
          'round-robin',
          'random',
          'least-request',
          'peak-ewma',
          'consistent-hash',
        ),
        fc.constantFrom(0, 0.5),
        fc.array(op, { minLength: 1, maxLength: 40 }),
        fc.integer(),
        async (balancer, panicThreshold, ops, seed) => {
          const verdicts = new Map<string, boolean>()
          const source = new FakeSource(statefulSet(5))
          const clock = new FakeClock()
          const pool = createPool(
            {
              service: 'web',
              balancer,
              panicThreshold,
              slowStart: 1_000,
              healthCheck: {
                check: async (e) => verdicts.get(e.name!) ?? true,
                interval: 1_000,
                unhealthyThreshold: 1,
              },
              outlierDetection: { consecutiveFailures: 2, baseEjectionTime: 1_000, probation: 500 },
            },
            { source, clock, random: seededRandom(seed) },
          )
          for (const step of ops) {
            const names = pool.endpoints.map((e) => e.name!)
            switch (step.kind) {
              case 'fail':
              case 'succeed': {
                const target = pool.endpoints[step.which % names.length]!
                try {
                  const lease = pool.acquire({
                    exclude: pool.endpoints.filter((e) => e !== target),
                    key: 'k',
                  })
                  lease.release(
                    step.kind === 'succeed'
                      ? { ok: true, latency: 5 }
                      : { ok: false, kind: step.refused ? 'connect-refused' : 'status' },
                  )
                } catch (error) {
                  expect(error).toBeInstanceOf(NoEndpointsError)
                }
                break
              }
              case 'check':
                verdicts.set(names[step.which % names.length]!, step.passes)
                break
              case 'advance':
                clock.advance(step.ms)
                break
              case 'resize':
                source.set(statefulSet(step.n))
                break
            }
            await settle()
            const states = new Map(pool.stats().endpoints.map((e) => [e.endpoint.id, e.state]))
            for (let i = 0; i < 10; i++) {
              let picked: string | undefined
              try {
                picked = pool.pick({ key: `key-${i}` }).id
              } catch (error) {
                expect(error).toBeInstanceOf(NoEndpointsError)
                continue
              }
              expect(states.has(picked), 'a removed endpoint was picked').toBe(true)
              if (!pool.panic) expect(['healthy', 'probation']).toContain(states.get(picked))
              else expect(states.get(picked)).not.toBe('pending')
            }
          }
          await pool.close()
          expect(clock.pending).toBe(0)
        },
      ),
      { numRuns: 60 },
    )
  })
})
