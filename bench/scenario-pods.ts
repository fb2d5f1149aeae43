// The pods of the gray-failure scenario benchmarks (bench/scenario-*.ts): a lab in a child
// process of its own (as bench/http-pods.ts), with a headless service `web` and a ClusterIP
// service `web-vip` over as many pods of their own, and faults applied to pod i of both at once,
// so every variant of a scenario meets the same sick pod. The parent drives it over IPC:
//   -> { ready: { dnsServer, service, port, pods: [{ name, ip }], vip: { ip, port }, blackhole } }
//   <- { id, fault: { pod: i, fault } }     -> { id }  PodFault of lab/api.ts, or { kind: 'blackhole', on }
//   <- { id, counts: true }                 -> { id, counts: { web: number[], vip: number[] }, last: { web, vip } }
//        requests per pod since the last reset; `last`: ms since each pod last received one (-1: none)
//   <- { id, reset: true }                  -> { id }  counters to 0, every fault off
//   <- { stop: true }                       lab closed, exit

import type { LabPod, PodFault } from '../lab/index.js'
import { startLab } from '../lab/index.js'

const replicas = Number(process.argv[2] ?? 4)
const lab = await startLab()
const web = await lab.addService({ name: 'web', kind: 'headless', replicas })
const vip = await lab.addService({ name: 'web-vip', kind: 'clusterIP', replicas })

// The pods count requests but keep no timestamps: poll their counters to see when each last got one.
const lastSeen = new Map<LabPod, { total: number; at: number }>()
const poll = setInterval(() => {
  const now = performance.now()
  for (const pod of [...web.pods, ...vip.pods]) {
    const seen = lastSeen.get(pod)
    if (seen === undefined || seen.total !== pod.requests.total)
      lastSeen.set(pod, { total: pod.requests.total, at: now })
  }
}, 10)
poll.unref()

function ago(pod: LabPod): number {
  const seen = lastSeen.get(pod)
  return seen === undefined || pod.requests.total === 0 ? -1 : Math.round(performance.now() - seen.at)
}

type Message = {
  id?: number
  fault?: { pod: number; fault: PodFault | { kind: 'blackhole'; on: boolean } }
  counts?: boolean
  reset?: boolean
  stop?: boolean
}

process.on('message', async (message: Message) => {
  if (message.fault !== undefined) {
    const { pod, fault } = message.fault
    for (const p of [web.pods[pod]!, vip.pods[pod]!]) {
      if (fault.kind === 'blackhole') await p.blackhole(fault.on)
      else p.fault(fault)
    }
    process.send?.({ id: message.id })
  }
  if (message.counts) {
    process.send?.({
      id: message.id,
      counts: { web: web.pods.map((p) => p.requests.total), vip: vip.pods.map((p) => p.requests.total) },
      last: { web: web.pods.map(ago), vip: vip.pods.map(ago) },
    })
  }
  if (message.reset) {
    for (const p of [...web.pods, ...vip.pods]) {
      p.fault({ kind: 'none' })
      if (lab.blackholeSupport.supported) await p.blackhole(false)
      p.resetCounters()
    }
    lastSeen.clear()
    process.send?.({ id: message.id })
  }
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
    port: web.port,
    pods: web.pods.map((p) => ({ name: p.name, ip: p.ip })),
    vip: { ip: vip.clusterIP, port: vip.port },
    blackhole: lab.blackholeSupport,
  },
})
