import { parseHostPort } from '../discovery/discovery-options.js'
import { invalidServiceNameReason } from '../discovery/dns-name.js'
import { invalidType } from '../options.js'
import type { GrpcUri } from './grpc-like.js'

/**
 * A `headless:` target after parsing. The forms follow gRPC's naming doc for `dns:`
 * (grpc/grpc doc/naming.md): `headless:[//dns-server/]service:port`, where the port is a number
 * (A/AAAA records, that port) or a Kubernetes port name (SRV `_<name>._tcp.<service>`, whose
 * records give the ports).
 */
export interface GrpcTarget {
  /** As the user wrote it, for messages. */
  readonly text: string
  readonly service: string
  readonly port: number | undefined
  readonly portName: string | undefined
  /** `ip` or `ip:port` from the target's authority: overrides `dns.servers`. */
  readonly dnsServer: string | undefined
  /** What grpc-js sends as `:authority` and checks TLS names against. */
  readonly authority: string
}

const PORT_NAME = /^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/

/** Parses a target grpc-js handed to the resolver; throws a TypeError naming the target and the fix. */
export function parseGrpcTarget(target: GrpcUri, scheme: string): GrpcTarget {
  const text = `${scheme}:${target.authority === undefined ? '' : `//${target.authority}/`}${target.path}`
  const fail = (why: string): never => {
    throw invalidType(
      'target',
      `${scheme}:///<service>:<port or port name>`,
      text,
      `${why}, e.g. ${scheme}:///rpc.default.svc.cluster.local:50051 (A/AAAA records) or ${scheme}:///rpc.default.svc.cluster.local:grpc (SRV _grpc._tcp)`,
    )
  }
  let dnsServer: string | undefined
  if (target.authority !== undefined && target.authority !== '') {
    const parsed = parseHostPort(target.authority)
    if (parsed === undefined)
      fail(`The authority ${JSON.stringify(target.authority)} is not a DNS server's ip or ip:port`)
    dnsServer = target.authority
  }
  const colon = target.path.lastIndexOf(':')
  if (colon <= 0 || colon === target.path.length - 1) fail('It names no port')
  const host = target.path.slice(0, colon)
  const portText = target.path.slice(colon + 1)
  const reason = invalidServiceNameReason(host)
  if (reason !== undefined) fail(`${JSON.stringify(host)} is not a service name: ${reason}`)
  let port: number | undefined
  let portName: string | undefined
  if (/^\d+$/.test(portText)) {
    port = Number(portText)
    if (port < 1 || port > 65535) fail(`The port ${portText} is not from 1 to 65535`)
  } else if (PORT_NAME.test(portText)) portName = portText
  else fail(`${JSON.stringify(portText)} is neither a port number nor a Kubernetes port name`)
  const service = host.toLowerCase()
  return {
    text,
    service,
    port,
    portName,
    dnsServer,
    // grpc-js's dns resolver sends `host:port`; with a port name there is no port to send.
    authority: port === undefined ? service.replace(/\.$/, '') : `${service.replace(/\.$/, '')}:${port}`,
  }
}
