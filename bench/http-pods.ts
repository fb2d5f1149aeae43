// The pods of the HTTP benchmarks: a lab (real BIND DNS, pod HTTP servers on 127.0.10.x, a
// ClusterIP per-connection proxy) in a child process of its own, so that serving requests does
// not share the client's event loop (the machine has 2 cores: one for the pods, one for the
// client under test). argv: replicas, then the TTL in seconds (default 5). The parent drives it
// over IPC; every change answers with the pods of both services as they are then:
//   -> { ready: { dnsServer, service, pods: [{ name, ip, port }], vip: { fqdn, ip, port, pods }, blackholeSupport } }
//   <- { id, kill: { service, pod } }               listener closed, open sockets destroyed (a crashed pod; DNS unchanged)
//   <- { id, blackhole: { service, pod, on } }      packets to and from the pod dropped (or no longer)
//   <- { id, scale: { service, replicas } }         pods added or removed (at once), DNS updated
//   <- { id, fault: { name, fault } }               the lab's fault (slow, errors, hang, none) on a pod of the headless service
//   -> { id, pods: { web: [...], vip: [...] } }     the answer to each of the above, once done
//   <- { stop: true }                               lab closed, exit
// `service` is 'web' (the headless service) or 'vip' (the ClusterIP one); `pod` a pod's index.
import type { LabService, PodFault } from '../lab/index.js'
import { startLab } from '../lab/index.js'

const replicas = Number(process.argv[2] ?? 4)
const lab = await startLab({ ttl: Number(process.argv[3] ?? 5) })
const web = await lab.addService({ name: 'web', kind: 'headless', replicas })
const vip = await lab.addService({ name: 'web-vip', kind: 'clusterIP', replicas })

type Which = 'web' | 'vip'
interface Message {
  id?: number
  kill?: { service: Which; pod: number }
  blackhole?: { service: Which; pod: number; on: boolean }
  scale?: { service: Which; replicas: number }
  fault?: { name: string; fault: PodFault }
  stop?: boolean
}

const services: Record<Which, LabService> = { web, vip }
const podList = (service: LabService) => service.pods.map((p) => ({ name: p.name, ip: p.ip, port: p.port }))

process.on('message', async (message: Message) => {
  if (message.kill) await services[message.kill.service].pods[message.kill.pod]!.kill()
  if (message.blackhole) {
    const { service, pod, on } = message.blackhole
    await services[service].pods[pod]!.blackhole(on)
  }
  if (message.fault) web.pod(message.fault.name).fault(message.fault.fault)
  if (message.scale) await services[message.scale.service].scale(message.scale.replicas)
  if (message.id !== undefined)
    process.send?.({ id: message.id, pods: { web: podList(web), vip: podList(vip) } })
  if (message.stop) {
    await lab.close()
    process.exit(0)
  }
})
process.on('disconnect', () => {
  void lab.close().then(() => process.exit(0))
})
process.send?.({
  ready: {
    dnsServer: lab.dnsServer,
    service: web.fqdn,
    pods: podList(web),
    vip: { fqdn: vip.fqdn, ip: vip.clusterIP, port: vip.port, pods: podList(vip) },
    blackholeSupport: lab.blackholeSupport,
  },
})
