// The example's gRPC service, `example.Echo/Echo`: one unary call answered with the name of the
// pod that served it. Defined with raw JSON serializers so the example needs no .proto file; an
// application would use @grpc/proto-loader or generated code, and nothing else changes.
import * as grpc from '@grpc/grpc-js'

const json = {
  serialize: (value: unknown): Buffer => Buffer.from(JSON.stringify(value)),
  deserialize: (bytes: Buffer): unknown => (bytes.length === 0 ? {} : JSON.parse(bytes.toString('utf8'))),
}

export interface EchoReply {
  /** The pod (hostname) that answered. */
  readonly pod: string
}

export const echoService = {
  echo: {
    path: '/example.Echo/Echo',
    requestStream: false,
    responseStream: false,
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize,
    originalName: 'echo',
  },
} satisfies grpc.ServiceDefinition

export const EchoClient = grpc.makeGenericClientConstructor(echoService, 'Echo')
export type EchoClient = InstanceType<typeof EchoClient>

/** One Echo call, as a promise. */
export function callEcho(client: EchoClient, deadlineMs = 5_000): Promise<EchoReply> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      echoService.echo.path,
      json.serialize,
      json.deserialize as (bytes: Buffer) => EchoReply,
      {},
      new grpc.Metadata(),
      { deadline: Date.now() + deadlineMs },
      (error: grpc.ServiceError | null, reply?: EchoReply) => (error ? reject(error) : resolve(reply!)),
    )
  })
}
