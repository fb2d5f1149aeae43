/**
 * HTTP/2 pods for a lab service made with `servePods: false`: one node:http2 secure server per
 * pod address (h2 only, no HTTP/1.1 fallback, so a client that does not negotiate h2 fails),
 * counting sessions and streams, recording `:authority` and SNI, and the most streams it ever
 * had open at once on one session. Faults: a graceful GOAWAY on every session, or a crash
 * (sessions destroyed, listener closed). Kept apart from the HTTP/1.1 pod server (pod-server.ts).
 */
import { once } from 'node:events'
import http2 from 'node:http2'
import type { LabService } from './api.js'

export interface H2PodStats {
  sessions: number
  streams: number
  /** The most streams open at once on one session. */
  maxActive: number
  readonly authorities: Set<string>
  readonly snis: Set<string>
}

export interface H2Pods {
  readonly stats: ReadonlyMap<string, H2PodStats>
  /** Delay before each response, ms (so that streams are in flight). */
  latencyMs: number
  /** Sends GOAWAY on every open session of the pod (in-flight streams finish; the server keeps listening). */
  goaway(pod: string): void
  /** Destroys every session of the pod and closes its listener: in-flight streams are reset, connects refused. */
  kill(pod: string): Promise<void>
  close(): Promise<void>
}

export async function startH2Pods(
  svc: LabService,
  tls: { cert: Buffer; key: Buffer } | undefined,
  options: { maxConcurrentStreams?: number; cleartext?: boolean } = {},
): Promise<H2Pods> {
  const stats = new Map<string, H2PodStats>()
  const servers = new Map<
    string,
    { server: http2.Http2Server | http2.Http2SecureServer; sessions: Set<http2.ServerHttp2Session> }
  >()
  const pods: H2Pods = {
    stats,
    latencyMs: 0,
    goaway(pod) {
      for (const session of servers.get(pod)?.sessions ?? []) session.goaway()
    },
    async kill(pod) {
      const entry = servers.get(pod)
      if (entry === undefined) return
      servers.delete(pod)
      const closed = new Promise<void>((resolve) => entry.server.close(() => resolve()))
      for (const session of entry.sessions) session.destroy()
      await closed
    },
    async close() {
      await Promise.all([...servers.keys()].map((pod) => pods.kill(pod)))
    },
  }
  for (const pod of svc.pods) {
    const s: H2PodStats = { sessions: 0, streams: 0, maxActive: 0, authorities: new Set(), snis: new Set() }
    stats.set(pod.name, s)
    const sessions = new Set<http2.ServerHttp2Session>()
    const settings =
      options.maxConcurrentStreams === undefined
        ? {}
        : { settings: { maxConcurrentStreams: options.maxConcurrentStreams } }
    // Cleartext: h2c by prior knowledge (node:http2's plain server speaks nothing else).
    const server: http2.Http2Server | http2.Http2SecureServer =
      options.cleartext === true || tls === undefined
        ? http2.createServer(settings)
        : http2.createSecureServer({ ...tls, allowHTTP1: false, ...settings })
    server.on('session', (session: http2.ServerHttp2Session) => {
      s.sessions++
      sessions.add(session)
      let active = 0
      session.on('stream', (stream, headers) => {
        s.streams++
        active++
        s.maxActive = Math.max(s.maxActive, active)
        s.authorities.add(String(headers[':authority']))
        s.snis.add(String((session.socket as { servername?: string }).servername))
        stream.on('close', () => active--)
        stream.on('error', () => {})
        stream.resume()
        const respond = () => {
          if (stream.destroyed || stream.closed) return
          stream.respond({ ':status': 200, 'content-type': 'application/json', 'x-pod': pod.name })
          stream.end(JSON.stringify({ pod: pod.name, method: headers[':method'] }))
        }
        if (pods.latencyMs > 0) setTimeout(respond, pods.latencyMs).unref()
        else stream.on('end', respond)
      })
      session.on('error', () => {})
      session.on('close', () => sessions.delete(session))
    })
    server.listen(pod.port, pod.ip)
    await once(server, 'listening')
    servers.set(pod.name, { server, sessions })
  }
  return pods
}
