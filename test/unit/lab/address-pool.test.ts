import { describe, expect, it } from 'vitest'
import { AddressPool } from '../../../lab/address-pool.js'

describe('AddressPool', () => {
  it('hands out addresses in increasing order and does not reuse a released one until it wraps', () => {
    const pool = new AddressPool('127.0.10.')
    expect([pool.take(), pool.take(), pool.take()]).toEqual(['127.0.10.1', '127.0.10.2', '127.0.10.3'])
    pool.release('127.0.10.1')
    expect(pool.take()).toBe('127.0.10.4')
  })

  it('wraps around past .254, skipping addresses in use, and says when the /24 is full', () => {
    const pool = new AddressPool('127.0.11.')
    const taken = Array.from({ length: 254 }, () => pool.take())
    expect(taken.at(-1)).toBe('127.0.11.254')
    expect(() => pool.take()).toThrow(RangeError)
    pool.release('127.0.11.7')
    expect(pool.take()).toBe('127.0.11.7')
  })
})
