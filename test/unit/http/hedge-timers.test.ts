import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { HedgeTimers, type HedgeWaiter } from '../../../src/http/hedge-timers.js'

/** A waiter that notes when it was found due. */
function waiter(name: string, log: string[]): HedgeWaiter {
  return {
    dueAt: 0,
    waitPrev: null,
    waitNext: null,
    waitQueue: null,
    get waiting() {
      return this.waitQueue !== null
    },
    due: () => log.push(`${name}@${performance.now()}`),
  }
}

describe('HedgeTimers', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('hands each waiter its hedge at its time, in order, with one timer for all', () => {
    const log: string[] = []
    const timers = new HedgeTimers()
    const spy = vi.spyOn(globalThis, 'setTimeout')
    timers.add(waiter('a', log), 10, performance.now())
    vi.advanceTimersByTime(2)
    timers.add(waiter('b', log), 10, performance.now())
    timers.add(waiter('c', log), 10, performance.now())
    expect(spy).toHaveBeenCalledTimes(1)
    vi.advanceTimersByTime(8)
    expect(log).toEqual(['a@10'])
    vi.advanceTimersByTime(2)
    expect(log).toEqual(['a@10', 'b@12', 'c@12'])
    expect(timers.size).toBe(0)
    expect(timers.armed).toBe(false)
  })

  it('a waiter that leaves before its time is never due; the timer fires once and stops', () => {
    const log: string[] = []
    const timers = new HedgeTimers()
    const fired = vi.spyOn(timers, 'fire')
    const a = waiter('a', log)
    timers.add(a, 5, performance.now())
    timers.remove(a)
    timers.remove(a)
    expect(timers.size).toBe(0)
    vi.advanceTimersByTime(100)
    expect(log).toEqual([])
    expect(fired).toHaveBeenCalledTimes(1)
    expect(timers.armed).toBe(false)
  })

  it('a shorter delay than those waiting goes ahead of them, and re-arms the timer earlier', () => {
    const log: string[] = []
    const timers = new HedgeTimers()
    timers.add(waiter('slow', log), 50, performance.now())
    timers.add(waiter('mid', log), 30, performance.now())
    timers.add(waiter('fast', log), 5, performance.now())
    vi.advanceTimersByTime(5)
    expect(log).toEqual(['fast@5'])
    vi.advanceTimersByTime(45)
    expect(log).toEqual(['fast@5', 'mid@30', 'slow@50'])
  })

  it('after the head leaves, the timer still fires for the next waiter at its own time', () => {
    const log: string[] = []
    const timers = new HedgeTimers()
    const a = waiter('a', log)
    timers.add(a, 5, performance.now())
    timers.add(waiter('b', log), 20, performance.now())
    timers.remove(a)
    vi.advanceTimersByTime(19)
    expect(log).toEqual([])
    vi.advanceTimersByTime(1)
    expect(log).toEqual(['b@20'])
  })

  it('waiters leave from the middle and the tail and come back, and one added twice waits once', () => {
    const log: string[] = []
    const timers = new HedgeTimers()
    const [a, b, c] = [waiter('a', log), waiter('b', log), waiter('c', log)]
    for (const w of [a, b, c]) timers.add(w, 10, performance.now())
    timers.remove(b)
    timers.remove(c)
    timers.add(c, 10, performance.now())
    timers.add(b, 10, performance.now())
    timers.add(b, 10, performance.now())
    expect(timers.size).toBe(3)
    vi.advanceTimersByTime(10)
    expect(log).toEqual(['a@10', 'c@10', 'b@10'])
    expect([a, b, c].every((w) => !w.waiting && w.waitPrev === null && w.waitNext === null)).toBe(true)
  })

  it('a delay that drops sharply: the new, shorter waiters are due first, without walking the others', () => {
    const log: string[] = []
    const timers = new HedgeTimers()
    for (let i = 0; i < 1000; i++) timers.add(waiter(`slow${i}`, log), 1000, performance.now())
    timers.add(waiter('fast0', log), 10, performance.now())
    timers.add(waiter('fast1', log), 10, performance.now())
    vi.advanceTimersByTime(10)
    expect(log).toEqual(['fast0@10', 'fast1@10'])
    vi.advanceTimersByTime(990)
    expect(log.length).toBe(1002)
  })

  it('close() clears the timer and every waiter, and takes none after', () => {
    const log: string[] = []
    const timers = new HedgeTimers()
    const a = waiter('a', log)
    timers.add(a, 5, performance.now())
    timers.close()
    expect(a.waiting).toBe(false)
    expect(timers.armed).toBe(false)
    expect(timers.size).toBe(0)
    timers.add(waiter('b', log), 5, performance.now())
    vi.advanceTimersByTime(10)
    expect(log).toEqual([])
    expect(timers.armed).toBe(false)
  })
})
