// The pods of the HTTP benchmarks: a lab (real BIND DNS, pod HTTP servers on 127.0.10.x, a
// ClusterIP per-connection proxy) in a child process of its own, so that serving requests does
// not share the client's event loop (the machine has 2 cores: one for the pods, one for the
// client under test). The parent drives it over IPC:
//   -> { ready: { dnsServer, service, pods: [{ name, ip, port }], vip: { fqdn, ip, port } } }
//   <- { kill: name }  -> { killed: name }  listener closed, open sockets destroyed (a crashed pod; DNS unchanged)
//   <- { fault: { name, fault } }  -> { faulted: name }  the lab's pod fault (slow, errors, hang, none)
//   <- { stop: true }                       lab closed, exit
import type { PodFault } from '../test/lab/api.js'
import { startLab } from '../test/lab/index.js'

const replicas = Number(process.argv[2] ?? 4)
const lab = await startLab()
const web = await lab.addService({ name: 'web', kind: 'headless', replicas })
const vip = await lab.addService({ name: 'web-vip', kind: 'clusterIP', replicas })

process.on(
  'message',
  async (message: { kill?: string; fault?: { name: string; fault: PodFault }; stop?: boolean }) => {
    if (message.fault !== undefined) {
      web.pod(message.fault.name).fault(message.fault.fault)
      process.send?.({ faulted: message.fault.name })
    }
    if (message.kill !== undefined) {
      await web.pod(message.kill).kill()
      process.send?.({ killed: message.kill })
    }
    if (message.stop) {
      await lab.close()
      process.exit(0)
    }
  },
)
process.on('disconnect', () => {
  void lab.close().then(() => process.exit(0))
})
process.send?.({
  ready: {
    dnsServer: lab.dnsServer,
    service: web.fqdn,
    pods: web.pods.map((p) => ({ name: p.name, ip: p.ip, port: p.port })),
    vip: { fqdn: vip.fqdn, ip: vip.clusterIP, port: vip.port },
  },
})
