// The Echo server, as each pod runs it: `node server.ts` listens on 0.0.0.0:50051 (PORT
// overrides) and answers every call with the pod's hostname, which Kubernetes sets to the pod
// name. Nothing in it knows about headless-lb: client-side balancing needs no server change.
//
//   npx node --import ./scripts/ts-resolve.mjs examples/grpc/server.ts
import { hostname } from 'node:os'
import { fileURLToPath } from 'node:url'
import * as grpc from '@grpc/grpc-js'
import { echoService } from './echo-service.js'

/** Starts an Echo server on host:port answering as `pod`; resolves once it listens. */
export async function startEchoServer(host: string, port: number, pod: string): Promise<grpc.Server> {
  const server = new grpc.Server()
  server.addService(echoService, {
    echo: (_call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) =>
      callback(null, { pod }),
  })
  await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  )
  return server
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const port = Number(process.env.PORT ?? 50051)
  const server = await startEchoServer('0.0.0.0', port, hostname())
  console.log(`echo server ${hostname()} listening on :${port}`)
  // Kubernetes sends SIGTERM, and first removes the pod from the service's endpoints (DNS):
  // finish the calls in flight, then exit.
  process.once('SIGTERM', () => server.tryShutdown(() => process.exit(0)))
}
