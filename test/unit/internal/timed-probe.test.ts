import { describe, expect, it } from 'vitest'
import { timedProbe } from '../../../src/internal/timed-probe.js'
import { FakeClock } from '../../support/fake-clock.js'

describe('timedProbe', () => {
  it('settles as the probe does and leaves no timer behind', async () => {
    const clock = new FakeClock()
    const passed = timedProbe(clock, 1_000, 'timed out', new AbortController(), async () => true)
    await expect(passed).resolves.toBe(true)
    const failure = new Error('refused')
    const failed = timedProbe(clock, 1_000, 'timed out', new AbortController(), async () => {
      throw failure
    })
    await expect(failed).rejects.toBe(failure)
    expect(clock.pending).toBe(0)
  })

  it('rejects with the timeout message at the deadline, even when the probe ignores its signal', async () => {
    const clock = new FakeClock()
    let seen: AbortSignal | undefined
    const hung = timedProbe(clock, 1_000, 'health check timed out', new AbortController(), (signal) => {
      seen = signal
      return new Promise<boolean>(() => {})
    })
    clock.advance(999)
    expect(seen?.aborted).toBe(false)
    clock.advance(1)
    await expect(hung).rejects.toThrow('health check timed out')
    expect(seen?.aborted).toBe(true)
  })

  it("rejects with the caller's abort reason, and clears its timer", async () => {
    const clock = new FakeClock()
    const controller = new AbortController()
    const probe = timedProbe(clock, 1_000, 'timed out', controller, () => new Promise<boolean>(() => {}))
    const reason = new Error('pool closed')
    controller.abort(reason)
    await expect(probe).rejects.toBe(reason)
    expect(clock.pending).toBe(0)
  })

  it('turns a probe that throws at once, or returns a plain value, into a settled promise', async () => {
    const clock = new FakeClock()
    const failure = new TypeError('bad check')
    await expect(
      timedProbe(clock, 1_000, 'timed out', new AbortController(), () => {
        throw failure
      }),
    ).rejects.toBe(failure)
    await expect(timedProbe(clock, 1_000, 'timed out', new AbortController(), () => 'primary')).resolves.toBe(
      'primary',
    )
    expect(clock.pending).toBe(0)
  })

  it('rejects at once for a controller aborted before the probe starts, without running it', async () => {
    const clock = new FakeClock()
    const controller = new AbortController()
    controller.abort(new Error('already gone'))
    let ran = false
    await expect(
      timedProbe(clock, 1_000, 'timed out', controller, async () => {
        ran = true
        return true
      }),
    ).rejects.toThrow('already gone')
    expect(ran).toBe(false)
    expect(clock.pending).toBe(0)
  })
})
