// examples/grpc/main.ts as a test: the example's own Echo servers as pods, its client through
// headless-lb/grpc, and a fourth pod joining, so the example is exercised in CI.
import { describe, expect, it } from 'vitest'
import { runGrpcExample } from '../../examples/grpc/main.js'

describe('examples/grpc', () => {
  it('spreads calls over every pod, and over a pod added to DNS', async () => {
    const { before, after } = await runGrpcExample(() => {})
    expect([...before.keys()]).toEqual(['rpc-0', 'rpc-1', 'rpc-2'])
    for (const n of before.values()) expect(n).toBeGreaterThanOrEqual(15)
    expect([...after.keys()]).toEqual(['rpc-0', 'rpc-1', 'rpc-2', 'rpc-3'])
    for (const n of after.values()) expect(n).toBeGreaterThanOrEqual(15)
  })
})
