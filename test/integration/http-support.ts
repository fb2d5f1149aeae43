import type { Lab, LabService } from '../../lab/index.js'
import type { ClientOptions } from '../../src/http/create-client.js'
import { createClient } from '../../src/http/create-client.js'
import type { HeadlessClient } from '../../src/http/headless-client.js'

/** A client for a lab service: SRV (so endpoints carry pod names), the lab's DNS server, no search list, fast refresh. */
export function labClient(lab: Lab, svc: LabService, options: Partial<ClientOptions> = {}): HeadlessClient {
  return createClient({
    origin: `http://${svc.fqdn}:${svc.port}`,
    portName: 'http',
    dns: { servers: [lab.dnsServer], search: [], ndots: 1 },
    minRefresh: 500,
    maxRefresh: 2_000,
    ...options,
  } as ClientOptions)
}

/** GETs in `concurrency` loops until `stop()` resolves; returns what each request gave. */
export function getLoad(
  client: HeadlessClient,
  concurrency: number,
): { stop(): Promise<{ ok: number; failures: unknown[]; byPod: Map<string, number> }> } {
  let running = true
  let ok = 0
  const failures: unknown[] = []
  const byPod = new Map<string, number>()
  const loops = Array.from({ length: concurrency }, async () => {
    while (running) {
      try {
        const res = await client.request('/load')
        const pod = String(res.headers['x-pod'])
        await res.body.dump()
        if (res.statusCode === 200) {
          ok++
          byPod.set(pod, (byPod.get(pod) ?? 0) + 1)
        } else failures.push(new Error(`status ${res.statusCode} from ${pod}`))
      } catch (error) {
        if ((error as { code?: string }).code === 'HLB_ERR_CLOSED') break
        // Bounded, and a pause: a client failing fast must not spin this loop out of memory.
        if (failures.length < 100) failures.push(error)
        await new Promise((r) => setTimeout(r, 10))
      }
    }
  })
  return {
    async stop() {
      running = false
      await Promise.all(loops)
      return { ok, failures, byPod }
    },
  }
}

/**
 * How many times each request id reached any pod of `svc` (the pods count the `x-request-id`
 * header of every request they receive): the basis of "no POST reached a pod twice".
 */
export function arrivalsById(svc: LabService): Map<string, number> {
  const arrivals = new Map<string, number>()
  for (const pod of svc.pods)
    for (const [id, n] of pod.requestIds) arrivals.set(id, (arrivals.get(id) ?? 0) + n)
  return arrivals
}
