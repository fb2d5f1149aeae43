/**
 * The chaos suite's phases: each injects one fault into the lab while the load runs, then heals
 * it the way Kubernetes would (a sick pod is replaced: a new pod on a new IP), so that every
 * phase starts from a service whose pods are all fit and no phase inherits an ejection. The last
 * phase combines them.
 */
import type { Lab, LabPod, LabService, PodFault } from '../../lab/index.js'

export interface ChaosContext {
  readonly lab: Lab
  readonly web: LabService
  /** The slow pod's response time (ms), longer than the requests' deadline. */
  readonly slowMs: number
  /** The pod at `index` (modulo the service's size). */
  pod(index: number): LabPod
  /** Gives `pod` a fault until it is replaced (`baseline()` leaves it alone). */
  fault(pod: LabPod, fault: PodFault): void
  /** Forgets `pod`'s fault (it was replaced). */
  cured(pod: LabPod): void
  /** Gives every pod without a fault the base service time (new and restarted pods start without it). */
  baseline(): void
  /** A line for the phase's row (what was skipped and why, what moved where). */
  note(text: string): void
}

export interface ChaosPhase {
  readonly name: string
  /** A gray failure (the pod still accepts connections or packets vanish): the throughput invariant applies. */
  readonly gray: boolean
  /** Why the phase cannot run here, if it cannot. */
  skip?(context: ChaosContext): string | undefined
  /** At the start of the phase, with the load running. */
  inject(context: ChaosContext): Promise<void>
  /** At half the phase. */
  midway?(context: ChaosContext): Promise<void>
  /** After the load stopped: back to a service of fit pods. */
  heal(context: ChaosContext): Promise<void>
}

/** A sick pod replaced, as a Deployment or StatefulSet controller replaces it: back on a new IP, fault cleared. */
async function replace(context: ChaosContext, pod: LabPod): Promise<void> {
  await pod.restart({ newIp: true })
  context.cured(pod)
  context.baseline()
}

const nothing = async (): Promise<void> => {}

export const healthyPhase: ChaosPhase = { name: 'healthy', gray: false, inject: nothing, heal: nothing }

export function chaosPhases(): ChaosPhase[] {
  return [
    healthyPhase,
    {
      name: 'kill',
      gray: false,
      inject: (c) => c.pod(1).kill(),
      heal: (c) => replace(c, c.pod(1)),
    },
    {
      name: 'hang',
      gray: true,
      inject: async (c) => c.fault(c.pod(2), { kind: 'hang' }),
      heal: (c) => replace(c, c.pod(2)),
    },
    {
      name: 'slow',
      gray: true,
      inject: async (c) => c.fault(c.pod(3), { kind: 'slow', latencyMs: c.slowMs }),
      heal: (c) => replace(c, c.pod(3)),
    },
    {
      name: '5xx',
      gray: false,
      inject: async (c) => c.fault(c.pod(4), { kind: 'errors', ratio: 1, status: 503 }),
      heal: (c) => replace(c, c.pod(4)),
    },
    {
      name: 'black hole',
      gray: true,
      skip: (c) => (c.lab.blackholeSupport.supported ? undefined : c.lab.blackholeSupport.reason),
      inject: (c) => c.pod(0).blackhole(),
      heal: async (c) => {
        await c.pod(0).blackhole(false)
        await replace(c, c.pod(0))
      },
    },
    {
      name: 'DNS outage',
      gray: false,
      inject: (c) => c.lab.stopDns(),
      heal: async (c) => {
        const before = c.lab.dnsServer
        await c.lab.startDns()
        if (c.lab.dnsServer !== before)
          throw new Error(`the DNS server came back on ${c.lab.dnsServer}, not ${before}`)
      },
    },
    {
      name: 'scale up',
      gray: false,
      inject: async (c) => {
        const from = c.web.pods.length
        await c.web.scale(from + 2)
        c.baseline()
        c.note(`${from} -> ${c.web.pods.length} pods`)
      },
      heal: nothing,
    },
    {
      name: 'scale down',
      gray: false,
      inject: async (c) => {
        const from = c.web.pods.length
        await c.web.scale(from - 4)
        c.note(`${from} -> ${c.web.pods.length} pods`)
      },
      heal: async (c) => {
        await c.web.scale(c.web.pods.length + 2)
        c.baseline()
      },
    },
    {
      name: 'rescheduled',
      gray: false,
      inject: async (c) => {
        const pod = c.pod(1)
        const from = pod.ip
        await replace(c, pod)
        c.note(`${pod.name} ${from} -> ${pod.ip}`)
      },
      heal: nothing,
    },
    {
      // Everything at once: a killed, a hung, a slow and a black-holed pod, 5xx from another,
      // and no DNS; at half time DNS returns, the killed pod is rescheduled and two pods are added.
      name: 'combined',
      gray: false,
      inject: async (c) => {
        await c.pod(0).kill()
        c.fault(c.pod(1), { kind: 'hang' })
        c.fault(c.pod(2), { kind: 'slow', latencyMs: c.slowMs })
        if (c.lab.blackholeSupport.supported) await c.pod(3).blackhole()
        else c.note(`no black hole: ${c.lab.blackholeSupport.reason}`)
        c.fault(c.pod(4), { kind: 'errors', ratio: 0.2, status: 503 })
        await c.lab.stopDns()
      },
      midway: async (c) => {
        await c.lab.startDns()
        await replace(c, c.pod(0))
        await c.web.scale(c.web.pods.length + 2)
        c.baseline()
      },
      heal: nothing,
    },
  ]
}
