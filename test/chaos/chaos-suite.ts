/**
 * The chaos suite: one client with its defaults (`createClient({ origin, dns })`, every request
 * under `AbortSignal.timeout`) under GET and POST load while the lab injects faults one phase
 * after another (chaos-phases.ts), then all at once; the client is closed under that load.
 * It returns a row per phase and the run's invariants: POSTs that reached a pod twice, requests
 * pending after `close()`, unhandled rejections. `npm run chaos` prints it (test/chaos/main.ts);
 * test/integration/chaos.test.ts runs a short variant and asserts the invariants.
 *
 * Every pod answers after a base service time (`serviceMs`), so that throughput is set by the
 * loops and the latency, as in a service that does work, and not by this process's CPU (the lab's
 * pods share it): a loop stuck on a sick pod then costs exactly its share of the throughput.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { type LabPod, type PodFault, startLab } from '../../lab/index.js'
import { type ClientOptions, createClient, type HeadlessClient } from '../../src/index.js'
import { until } from '../support/until.js'
import { type ChaosContext, type ChaosPhase, chaosPhases } from './chaos-phases.js'
import { ChaosTraffic, PhaseTally } from './chaos-traffic.js'

export interface ChaosOptions {
  /** How long the load runs in each phase (ms). */
  readonly phaseMs: number
  /**
   * How long the load runs in a gray phase (ms; default phaseMs). Its first requests to the sick
   * pod wait out their deadline before anything can know better (stall detection needs the pod
   * to sit on requests for a while first), so up to one deadline per loop is lost whatever the
   * phase's length: the phase must be several deadlines long for its ratio to say more than that.
   */
  readonly grayPhaseMs?: number
  /** At most this many requests per phase. */
  readonly maxRequests: number
  readonly getLoops: number
  readonly postLoops: number
  /** Each request's deadline (ms). */
  readonly deadlineMs: number
  /** Every pod's response time when it is well (ms). */
  readonly serviceMs: number
  /** The slow pod's response time (ms). */
  readonly slowMs: number
  readonly replicas: number
  /** The lab's record TTL (s). */
  readonly ttl: number
  /** Longest wait for the client to see the healed service before the next phase (ms). */
  readonly settleMs: number
  /**
   * Client options on top of the defaults, to compare (`npm run chaos -- --balancer least-request`);
   * the CI variant sets none: the defaults are what it checks.
   */
  readonly client?: Omit<ClientOptions, 'origin' | 'dns'>
  /** Called with each phase's row as it ends. */
  readonly onPhase?: (row: PhaseRow) => void
}

export const CHAOS_DEFAULTS: Omit<ChaosOptions, 'onPhase' | 'client'> = {
  phaseMs: 5_000,
  maxRequests: 200_000,
  getLoops: 16,
  postLoops: 16,
  deadlineMs: 1_000,
  serviceMs: 10,
  slowMs: 2_000,
  replicas: 5,
  ttl: 5,
  settleMs: 20_000,
}

/** Slack past the deadline for a request to settle (timer and event-loop delay on a loaded machine). */
export const GRACE_MS = 250

export interface PhaseRow {
  readonly name: string
  readonly gray: boolean
  /** Set when the phase did not run here (and why). */
  readonly skipped?: string
  readonly sent: number
  readonly ok: number
  readonly failed: Readonly<Record<string, number>>
  /** POSTs of this phase that the pods received more than once. */
  readonly duplicatePosts: number
  /** Requests still unsettled a deadline (+ GRACE_MS) after the phase's load stopped; in the last phase, after `close()`. */
  readonly pendingAtEnd: number
  readonly p50: number
  readonly p99: number
  /** 2xx answers per second from the fault's injection to the end of the phase. */
  readonly okPerSecond: number
  /** okPerSecond over the healthy phase's. */
  readonly ratioToHealthy: number
  readonly notes: ReadonlyArray<string>
}

export interface ChaosReport {
  readonly phases: ReadonlyArray<PhaseRow>
  /** Requests not settled once `close()` resolved (and one turn of the event loop ran). */
  readonly pendingAfterClose: number
  readonly unhandledRejections: ReadonlyArray<unknown>
  readonly duplicatePosts: number
}

function percentile(sorted: ReadonlyArray<number>, p: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!
}

function countDuplicates(ids: ReadonlyArray<string>, pods: ReadonlySet<LabPod>): number {
  let duplicates = 0
  for (const id of ids) {
    let arrived = 0
    for (const pod of pods) arrived += pod.requestIds.get(id) ?? 0
    if (arrived > 1) duplicates++
  }
  return duplicates
}

/** Whether the client's pool holds exactly the service's pods, all healthy, with fresh DNS. */
function settled(client: HeadlessClient, pods: ReadonlyArray<LabPod>): boolean {
  const stats = client.pool.stats()
  if (stats.stale) return false
  const want = new Set(pods.filter((p) => p.ready && p.running).map((p) => `${p.ip}:${p.port}`))
  const have = stats.endpoints.filter((e) => e.state === 'healthy')
  return (
    have.length === want.size &&
    stats.endpoints.length === want.size &&
    have.every((e) => want.has(`${e.endpoint.address}:${e.endpoint.port}`))
  )
}

export async function runChaos(overrides: Partial<ChaosOptions> = {}): Promise<ChaosReport> {
  const options: ChaosOptions = { ...CHAOS_DEFAULTS, ...overrides }
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason)
  }
  process.on('unhandledRejection', onUnhandled)
  try {
    await using lab = await startLab({ ttl: options.ttl })
    const web = await lab.addService({ name: 'web', kind: 'headless', replicas: options.replicas })
    // The README's pattern, nothing else set: the defaults are what is under test.
    await using client = createClient({
      ...options.client,
      origin: `http://${web.fqdn}:${web.port}`,
      dns: { servers: [lab.dnsServer] },
    })
    const seen = new Set<LabPod>()
    const sick = new Set<LabPod>()
    let notes: string[] = []
    const base: PodFault = { kind: 'slow', latencyMs: options.serviceMs }
    const context: ChaosContext = {
      lab,
      web,
      slowMs: options.slowMs,
      pod: (index) => web.pods[index % web.pods.length]!,
      fault(pod, fault) {
        sick.add(pod)
        pod.fault(fault)
      },
      cured: (pod) => sick.delete(pod),
      baseline() {
        for (const pod of web.pods) {
          seen.add(pod)
          if (!sick.has(pod)) pod.fault(base)
        }
      },
      note: (text) => notes.push(text),
    }
    context.baseline()
    await client.pool.ready()
    const traffic = new ChaosTraffic(client, {
      getLoops: options.getLoops,
      postLoops: options.postLoops,
      deadlineMs: options.deadlineMs,
      maxRequests: options.maxRequests,
    })
    // On a failure mid-run, the loops stop before the client and the lab close (disposal runs in reverse).
    await using _stopTraffic = { [Symbol.asyncDispose]: () => traffic.stop() }
    const phases = chaosPhases()
    const rows: PhaseRow[] = []
    let healthyRate = 0
    let pendingAfterClose = 0
    for (const [index, phase] of phases.entries()) {
      const last = index === phases.length - 1
      notes = []
      const skip = phase.skip?.(context)
      if (skip !== undefined) {
        const row = skippedRow(phase, skip)
        rows.push(row)
        options.onPhase?.(row)
        continue
      }
      const tally = new PhaseTally()
      traffic.start(tally)
      // Live connections and requests in flight when the fault lands.
      await sleep(Math.min(200, options.phaseMs / 10))
      const injectedAt = performance.now()
      tally.measuring = true
      await phase.inject(context)
      const injectMs = performance.now() - injectedAt
      // Some faults take a while to set up (named stops on SIGTERM): the load meanwhile counts.
      if (injectMs > 100) context.note(`injected in ${Math.round(injectMs)} ms`)
      for (const pod of web.pods) seen.add(pod)
      const phaseMs = phase.gray ? (options.grayPhaseMs ?? options.phaseMs) : options.phaseMs
      const end = injectedAt + phaseMs
      if (phase.midway) {
        await sleep(Math.max(0, end - phaseMs / 2 - performance.now()))
        await phase.midway(context)
        for (const pod of web.pods) seen.add(pod)
      }
      // The phase runs for its time, or until it has sent its count.
      while (performance.now() < end && tally.sent < options.maxRequests) {
        await sleep(Math.min(20, Math.max(1, end - performance.now())))
      }
      tally.measuring = false
      const measuredMs = performance.now() - injectedAt
      const stopped = traffic.stop()
      let pendingAtEnd: number
      if (last) {
        // The client is closed under the combined faults: close() must settle every request.
        await client.close()
        await new Promise((resolve) => setImmediate(resolve))
        pendingAfterClose = pendingAtEnd = traffic.inFlight
      } else {
        // Every request has a deadline: once it has passed, none may be left unanswered.
        const grace = new AbortController()
        await Promise.race([
          stopped,
          sleep(options.deadlineMs + GRACE_MS, undefined, { signal: grace.signal }),
        ])
        grace.abort()
        pendingAtEnd = traffic.inFlight
      }
      await stopped
      const okPerSecond = tally.okMeasured / (measuredMs / 1_000)
      if (phase.name === 'healthy') healthyRate = okPerSecond
      const sorted = [...tally.latencies].sort((a, b) => a - b)
      const row: PhaseRow = {
        name: phase.name,
        gray: phase.gray,
        sent: tally.sent,
        ok: tally.ok,
        failed: Object.fromEntries([...tally.failed].sort((a, b) => b[1] - a[1])),
        duplicatePosts: countDuplicates(tally.postIds, seen),
        pendingAtEnd,
        p50: percentile(sorted, 0.5),
        p99: percentile(sorted, 0.99),
        okPerSecond,
        ratioToHealthy: healthyRate > 0 ? okPerSecond / healthyRate : 0,
        notes,
      }
      rows.push(row)
      options.onPhase?.(row)
      if (last) break
      await phase.heal(context)
      for (const pod of web.pods) seen.add(pod)
      await until(
        `the client to see the service healed after "${phase.name}" (pods ${web.pods.map((p) => p.ip).join(', ')})`,
        () => settled(client, web.pods),
        options.settleMs,
      ).catch((error: Error) => {
        const seenByClient = client.pool.stats().endpoints.map((e) => `${e.endpoint.address} ${e.state}`)
        throw new Error(`${error.message}; the client has ${seenByClient.join(', ')}`)
      })
    }
    return {
      phases: rows,
      pendingAfterClose,
      unhandledRejections: unhandled,
      duplicatePosts: rows.reduce((sum, r) => sum + r.duplicatePosts, 0),
    }
  } finally {
    // A rejection left unhandled by the close is reported at the next turn: wait for it.
    await new Promise((resolve) => setImmediate(resolve))
    process.off('unhandledRejection', onUnhandled)
  }
}

function skippedRow(phase: ChaosPhase, reason: string): PhaseRow {
  return {
    name: phase.name,
    gray: phase.gray,
    skipped: reason,
    sent: 0,
    ok: 0,
    failed: {},
    duplicatePosts: 0,
    pendingAtEnd: 0,
    p50: 0,
    p99: 0,
    okPerSecond: 0,
    ratioToHealthy: 0,
    notes: [],
  }
}
