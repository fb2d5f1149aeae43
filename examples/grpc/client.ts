// The Echo client: registers headless-lb's resolver on this process's grpc-js, then makes calls
// to the headless service and prints which pod answered each. With no service config the
// resolver asks grpc-js for round_robin, so every pod gets calls (grpc-js's default, pick_first,
// would send them all to one).
//
//   npx node --import ./scripts/ts-resolve.mjs examples/grpc/client.ts headless:///rpc.default.svc.cluster.local:50051 [calls]
import { fileURLToPath } from 'node:url'
import * as grpc from '@grpc/grpc-js'
import { type HeadlessResolverOptions, registerHeadlessResolver } from '../../src/grpc/index.js'
import { callEcho, EchoClient } from './echo-service.js'

/** Registers the `headless` scheme once per process, then makes a client for `target`. */
export function createEchoClient(target: string, resolver: HeadlessResolverOptions = {}): EchoClient {
  registerHeadlessResolver(grpc, resolver)
  return new EchoClient(target, grpc.credentials.createInsecure())
}

/** `calls` calls one after another; how many each pod answered. */
export async function tally(client: EchoClient, calls: number): Promise<Map<string, number>> {
  const counts = new Map<string, number>()
  for (let i = 0; i < calls; i++) {
    const { pod } = await callEcho(client)
    counts.set(pod, (counts.get(pod) ?? 0) + 1)
  }
  return new Map([...counts].sort(([a], [b]) => a.localeCompare(b)))
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const target = process.argv[2] ?? 'headless:///rpc.default.svc.cluster.local:50051'
  const client = createEchoClient(target)
  for (const [pod, n] of await tally(client, Number(process.argv[3] ?? 30)))
    console.log(`${pod.padEnd(24)} ${n}`)
  client.close()
}
