// The pods of the HTTP benchmarks, in a child process of their own, so that serving requests
// does not share the client's event loop (the machine has 2 cores: one for the pods, one for
// the client under test). Plain node:http servers on 127.0.10.x, one port, as pods share a
// container port; each answers with its name. The parent drives it over IPC:
//   -> { ready: [{ name, ip, port }] }      once listening
//   <- { kill: name }  -> { killed: name }  listener closed and open sockets destroyed (a crashed pod)
//   <- { stop: true }                       exit
import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { Socket } from 'node:net'

const count = Number(process.argv[2] ?? 4)
const port = Number(process.argv[3] ?? 8080)

interface Pod {
  readonly name: string
  readonly ip: string
  readonly server: Server
  readonly sockets: Set<Socket>
}

const pods: Pod[] = []
for (let i = 0; i < count; i++) {
  const name = `web-${i}`
  const ip = `127.0.10.${i + 1}`
  const sockets = new Set<Socket>()
  const body = Buffer.from(name)
  const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    req.resume()
    res.setHeader('x-pod', name)
    res.setHeader('content-length', body.length)
    res.end(body)
  })
  server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  server.listen(port, ip)
  await once(server, 'listening')
  pods.push({ name, ip, server, sockets })
}

process.on('message', (message: { kill?: string; stop?: boolean }) => {
  if (message.kill !== undefined) {
    const pod = pods.find((p) => p.name === message.kill)
    if (pod === undefined) return
    pod.server.close()
    for (const socket of pod.sockets) socket.destroy()
    process.send?.({ killed: pod.name })
  }
  if (message.stop) process.exit(0)
})
process.on('disconnect', () => process.exit(0))
process.send?.({ ready: pods.map((p) => ({ name: p.name, ip: p.ip, port })) })
