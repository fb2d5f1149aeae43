import { describe, expect, it } from 'vitest'
import { unsupportedNode } from '../../src/node-version.js'

describe('unsupportedNode', () => {
  it.each(['22.19.0', 'v22.19.0', '22.20.1', '23.0.0', '24.21.0', '26.1.0'])('accepts %s', (version) => {
    expect(unsupportedNode(version)).toBeUndefined()
  })

  it.each(['20.20.2', 'v22.18.9', '22.0.0', '18.19.1'])(
    'names the floor and the version for %s',
    (version) => {
      expect(unsupportedNode(version)).toBe(
        `headless-lb needs Node.js >= 22.19.0 (its "engines" field), but this is Node.js ${version.replace('v', '')}: upgrade Node.js`,
      )
    },
  )
})
