import { describe, expect, it } from 'vitest'

describe('the test runtime', () => {
  it('is a supported Node (>= 22), not the machine Node 20', () => {
    const major = Number(process.versions.node.split('.')[0])
    expect(major, `tests ran on ${process.version}`).toBeGreaterThanOrEqual(22)
  })
})
