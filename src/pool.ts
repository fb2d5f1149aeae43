import { EventEmitter } from 'node:events'
import { debuglog } from 'node:util'
import type { Balancer, Exclusions } from './balancing/balancer.js'
import { isExcluded, PickContext } from './balancing/balancer.js'
import type {
  BalancerName,
  BalancingOptions,
  ResolvedBalancingOptions,
} from './balancing/balancing-options.js'
import { BALANCING_OPTION_KEYS, resolveBalancingOptions } from './balancing/balancing-options.js'
import { ConsistentHashBalancer } from './balancing/consistent-hash-balancer.js'
import { LatencyTracker } from './balancing/latency-tracker.js'
import { NearestBalancer } from './balancing/nearest-balancer.js'
import { PrimaryProber } from './balancing/primary-prober.js'
import { RandomBalancer } from './balancing/random-balancer.js'
import type { ProbedRole } from './balancing/roles.js'
import {
  choosePrimary,
  SELECT_ANY,
  SELECT_NEAREST,
  SELECT_PRIMARY,
  SELECT_PRIMARY_PREFERRED,
  SELECT_REPLICA,
  SELECT_REPLICA_PREFERRED,
  selectionPlan,
  staticRole,
} from './balancing/roles.js'
import { RoundRobinBalancer } from './balancing/round-robin-balancer.js'
import { LeastRequestBalancer, PeakEwmaBalancer } from './balancing/two-choice-balancer.js'
import type { Clock } from './discovery/clock.js'
import { systemClock } from './discovery/clock.js'
import type { DiscoveryInternals } from './discovery/create-endpoint-source.js'
import { createEndpointSource } from './discovery/create-endpoint-source.js'
import type { DiscoveryOptions } from './discovery/discovery-options.js'
import { DISCOVERY_OPTION_KEYS } from './discovery/discovery-options.js'
import type { EndpointSource, ReadyOptions, ResolutionEvent } from './discovery/endpoint-source.js'
import type { Endpoint, EndpointChange } from './endpoint.js'
import { describeEndpoint, sameAddress } from './endpoint.js'
import { ClosedError, NoEndpointsError, NoPrimaryError } from './errors.js'
import { ActiveHealthChecker } from './health/active-health-checker.js'
import type { EndpointHealth, EndpointRole } from './health/endpoint-state.js'
import { EndpointState } from './health/endpoint-state.js'
import { OutlierDetector } from './health/outlier-detector.js'
import { StallDetector } from './health/stall-detector.js'
import type { FailureKind, Lease, LeaseOutcome, PickOptions } from './lease.js'
import { chooseMeterProvider } from './metrics/meter-provider.js'
import { recordPoolMetrics } from './metrics/pool-metrics.js'
import { invalidType, rejectUnknownKeys, requireObject } from './options.js'
import { Leases } from './pool/leases.js'
import type { WantedGroup } from './pool/no-endpoint-reason.js'
import { noEndpointsReason, noPrimaryReason } from './pool/no-endpoint-reason.js'

const debug = debuglog('headless-lb')

/** Everything `createPool` takes: where the endpoints are, and how to balance across them. */
export type PoolOptions = DiscoveryOptions & BalancingOptions

/** Test and embedding seams: an endpoint source instead of DNS, a clock, a random source. */
export interface PoolInternals {
  /** Used instead of `createEndpointSource(options)`. The pool does not close a source it was given. */
  source?: EndpointSource
  clock?: Clock
  /** Uniform in [0, 1). Default: a per-pool generator seeded from Math.random. */
  random?: () => number
  /** Passed to `createEndpointSource` when no `source` is given (with `clock`, unless it sets its own). */
  discovery?: DiscoveryInternals
}

/** `health` event: an endpoint's health changed. */
export interface HealthEvent {
  readonly endpoint: Endpoint
  readonly state: EndpointHealth
  readonly previous: EndpointHealth
  /**
   * What caused it: `check-failed`, `check-passed`, `ejected`, `returned`, `probation-ended`,
   * `address-changed` (rescheduled to a new address: back to the initial state).
   */
  readonly reason: string
}

/**
 * `stall` event: stall detection stopped sending an endpoint requests (`stalled: true`: it has sat
 * on requests without answering for `waited` ms, far longer than its peers take), or it answered
 * or has nothing left waiting (`stalled: false`).
 */
export interface StallEvent {
  readonly endpoint: Endpoint
  readonly stalled: boolean
  /** ms the endpoint had requests waiting without answering anything, as the sweep measured it (0 when `stalled` is false). */
  readonly waited: number
}

/** `eject` event: outlier detection ejected an endpoint. */
export interface EjectEvent {
  readonly endpoint: Endpoint
  /** Milliseconds this ejection lasts. */
  readonly duration: number
  /** How many times this endpoint has been ejected, this one included. */
  readonly ejections: number
  /** `connect-refused` (ejected on the first refusal), `probation` (failed during probation) or `consecutive-failures`. */
  readonly reason: 'connect-refused' | 'probation' | 'consecutive-failures'
  /** The failure that crossed the line, as the caller gave it. */
  readonly error: unknown
}

/** `panic` event: panic mode began (`panic: true`) or ended. */
export interface PanicEvent {
  readonly panic: boolean
  /** Endpoints fit for traffic (healthy or on probation). */
  readonly healthy: number
  /**
   * Endpoints (checked, not `pending`) of the SRV priority level in use: all of them when they
   * share one priority, as from CoreDNS.
   */
  readonly total: number
}

/** `check` event: one active health check finished (not a transition: see `health` for those). */
export interface CheckEvent {
  readonly endpoint: Endpoint
  readonly passed: boolean
  /** Why it failed (a status, a refused connect, a timeout), when it did. */
  readonly error?: unknown
}

/** `primary` event: the endpoint taking `role: 'primary'` changed (undefined: none known). */
export interface PrimaryEvent {
  readonly primary: Endpoint | undefined
  readonly previous: Endpoint | undefined
}

export interface EndpointStats {
  readonly endpoint: Endpoint
  readonly state: EndpointHealth
  readonly role: EndpointRole
  readonly inFlight: number
  readonly requests: number
  readonly failures: number
  readonly consecutiveFailures: number
  /** Leases out on it with no answer yet (no response headers). */
  readonly waiting: number
  /** Stall detection keeps new requests away from it (it sits on waiting requests, answering nothing). */
  readonly stalled: boolean
  /** Peak-EWMA latency now, ms (decayed since the last observation). */
  readonly ewma: number
  readonly ejections: number
  /** Milliseconds left of the current ejection (0 when not ejected). */
  readonly ejectedFor: number
  /** Failed active checks, in total. */
  readonly checksFailed: number
}

export interface PoolStats {
  readonly service: string
  readonly balancer: BalancerName
  readonly panic: boolean
  readonly stale: boolean
  readonly primary: Endpoint | undefined
  readonly endpoints: ReadonlyArray<EndpointStats>
  /** Ejections outlier detection wanted but maxEjectionPercent prevented. */
  readonly ejectionsPrevented: number
  /** Discovery errors seen while no `error` listener was attached. */
  readonly unhandledErrors: number
  /**
   * Ms since discovery last had an answer (the age of the endpoint set: it grows while DNS
   * fails and the set is stale). Undefined before the first answer, and for a source that does
   * not say (static addresses).
   */
  readonly endpointsAge: number | undefined
}

/** The pool's events and their payloads. */
export interface PoolEvents {
  change: [EndpointChange]
  error: [Error]
  resolution: [ResolutionEvent]
  health: [HealthEvent]
  check: [CheckEvent]
  eject: [EjectEvent]
  stall: [StallEvent]
  panic: [PanicEvent]
  primary: [PrimaryEvent]
}

/** Builds a pool: discovery + health + balancing. Validates every option now. */
export function createPool(options: PoolOptions, internals: PoolInternals = {}): Pool {
  const record = requireObject('options', options)
  rejectUnknownKeys('', record, [...DISCOVERY_OPTION_KEYS, ...BALANCING_OPTION_KEYS])
  if (typeof record.service !== 'string' || record.service === '') {
    throw invalidType('service', 'a service name (web.default.svc.cluster.local or web)', record.service)
  }
  // Balancing options first: a mistake there must not leave DNS queries running.
  const resolved = resolveBalancingOptions(record)
  if (internals.source === undefined) requirePodNamesForPrimary(record, resolved)
  const discoveryOptions: Record<string, unknown> = {}
  for (const key of DISCOVERY_OPTION_KEYS) if (record[key] !== undefined) discoveryOptions[key] = record[key]
  const source =
    internals.source ??
    createEndpointSource(discoveryOptions as unknown as DiscoveryOptions, {
      ...(internals.clock ? { clock: internals.clock } : {}),
      ...internals.discovery,
    })
  return new Pool(options.service, resolved, source, internals.source === undefined, internals)
}

/**
 * A primary chosen by ordinal or name needs pod names, which only SRV (`portName`) and `pods`
 * give; for discovery options that will make a DNS source (an explicit source may carry them).
 */
export function requirePodNamesForPrimary(
  record: Record<string, unknown>,
  resolved: ResolvedBalancingOptions,
): void {
  const primary = resolved.primary
  if (
    (primary.kind === 'ordinal' || primary.kind === 'name') &&
    record.portName === undefined &&
    record.pods === undefined
  ) {
    throw invalidType(
      `primary.${primary.kind}`,
      'used with portName (SRV) or pods, which give pod names',
      primary.kind === 'ordinal' ? primary.ordinal : primary.name,
      'A/AAAA records of the service and static addresses carry none, so no endpoint would ever be the primary; ' +
        'set portName or pods, or find the primary with primary.probe',
    )
  }
}

/**
 * The live, health-checked endpoint set of one service, and the balancers that pick from it.
 * `pick` and `acquire` are synchronous and allocation-free: pickers are rebuilt when the set or
 * health changes, never per request.
 */
export class Pool extends EventEmitter<PoolEvents> {
  /** The service as given in the options. */
  readonly service: string
  private readonly options: ResolvedBalancingOptions
  private readonly source: EndpointSource
  private readonly ownsSource: boolean
  private readonly clock: Clock
  private readonly systemTime: boolean
  private readonly random: () => number
  private readonly context: PickContext
  private readonly detector: OutlierDetector
  private readonly stalls: StallDetector
  /** 1 while a stall sweep is scheduled (armed by acquire, stops when nothing is waiting). */
  private sweepArmed = 0
  private sweepTimer: unknown = undefined
  private readonly onSweep = (): void => this.sweep()
  private readonly censor = (state: EndpointState, waited: number): void =>
    this.latency.observe(state, waited)
  private readonly checker: ActiveHealthChecker | undefined
  private readonly prober: PrimaryProber | undefined
  /** Stops recording metrics (set when a MeterProvider was given or registered globally). */
  private readonly stopMetrics: (() => void) | undefined

  private readonly states = new Map<string, EndpointState>()
  private members: EndpointState[] = []
  private readonly anyBalancer: Balancer
  private readonly replicaBalancer: Balancer
  private readonly nearestBalancer: NearestBalancer
  private primaryState: EndpointState | undefined
  private readonly probed = new Map<EndpointState, { role: EndpointRole; primarySince: number }>()
  private readonly leases: Leases
  private readonly latency: LatencyTracker

  private ejectedCount = 0
  private rampingCount = 0
  /** Open and nothing ramping: `pick()` without options may skip straight to the balancer. */
  private plain = true
  private ejectionsPrevented = 0
  private unhandledErrors = 0
  private inPanic = false
  private seeded = false
  private closed = false
  private closing: Promise<void> | undefined

  private readonly onSourceChange = (change: EndpointChange): void => {
    if (this.closed) return
    this.sync(change.endpoints)
    this.emit('change', change)
  }

  private readonly onSourceResolution = (event: ResolutionEvent): void => {
    if (!this.closed) this.emit('resolution', event)
  }

  private readonly onSourceError = (error: Error): void => {
    if (this.closed) return
    // An unheard 'error' would throw and take the process down over a transient DNS failure.
    if (this.listenerCount('error') > 0) this.emit('error', error)
    else {
      this.unhandledErrors++
      debug('discovery error for %s (no error listener): %s', this.service, error)
    }
  }

  /** @internal Use `createPool`. */
  constructor(
    service: string,
    options: ResolvedBalancingOptions,
    source: EndpointSource,
    ownsSource: boolean,
    internals: PoolInternals,
  ) {
    super()
    this.service = service
    this.options = options
    this.source = source
    this.ownsSource = ownsSource
    this.clock = internals.clock ?? systemClock
    this.systemTime = this.clock === systemClock
    this.context = new PickContext(this.clock.now(), options.ewmaDecay, internals.random)
    this.random = internals.random ?? (() => this.context.random())
    this.detector = new OutlierDetector(options.outlierDetection, this.random)
    this.stalls = new StallDetector(options.stallDetection)
    this.leases = new Leases(this.onLeaseSettled)
    this.latency = new LatencyTracker(this.context, this.states)
    this.anyBalancer = createBalancer(options.balancer, this.context)
    this.replicaBalancer = createBalancer(options.balancer, this.context)
    this.nearestBalancer = new NearestBalancer(this.context, options.nearestThreshold)
    this.checker =
      options.healthCheck === undefined
        ? undefined
        : new ActiveHealthChecker(options.healthCheck, this.clock, this.random, (state, passed, error) =>
            this.onCheckResult(state, passed, error),
          )
    const primary = options.primary
    this.prober =
      primary.kind === 'probe'
        ? new PrimaryProber(
            primary,
            this.clock,
            () => this.members,
            (state, role) => this.onProbeResult(state, role),
          )
        : undefined
    source.on('change', this.onSourceChange)
    source.on('error', this.onSourceError)
    source.on('resolution', this.onSourceResolution)
    this.sync(source.endpoints)
    const provider = chooseMeterProvider(options.meterProvider)
    this.stopMetrics = provider === undefined ? undefined : recordPoolMetrics(this, provider)
  }

  /**
   * Resolves once discovery lists at least one endpoint (`allowEmpty: true`: once it has a first
   * answer, possibly "no ready pods"); rejects with ResolutionError on timeout or abort.
   */
  ready(options?: ReadyOptions): Promise<void> {
    if (this.closed) return Promise.reject(new ClosedError('pool', this.service))
    return this.source.ready(options)
  }

  /** The endpoints discovery lists now (fit or not). */
  get endpoints(): ReadonlyArray<Endpoint> {
    return this.source.endpoints
  }

  /** True while discovery serves its last good answer after DNS errors. */
  get stale(): boolean {
    return this.source.stale
  }

  /** True while in panic mode (routing across all endpoints, fit or not). */
  get panic(): boolean {
    return this.inPanic
  }

  /** The endpoint taking `role: 'primary'`, if one is known. */
  get primary(): Endpoint | undefined {
    return this.primaryState?.endpoint
  }

  /** Asks discovery for a re-resolution soon (rate-limited by discovery). */
  refresh(): void {
    if (!this.closed) this.source.refresh()
  }

  /**
   * One endpoint for one request, without counting it as in flight (use `acquire` for that).
   * Throws NoEndpointsError when nothing is eligible, NoPrimaryError when the primary is needed
   * and none is fit, ClosedError after close.
   */
  pick(options?: PickOptions): Endpoint {
    // The common call (no options, nothing ramping) stays small enough to inline into the caller.
    // `=== true`, not truthiness: V8 compiles a bare boolean field test as a chain of compares
    // (false, true, '', null, undefined, number, bigint), this as one.
    if (options === undefined && this.plain === true) {
      const state = this.anyBalancer.pick(undefined, undefined)
      if (state !== undefined) return state.endpoint
    }
    return this.select(options).endpoint
  }

  /** Like `pick`, and counts the request in flight until `lease.release(outcome)`. */
  acquire(options?: PickOptions): Lease {
    const lease = this.leases.take(this.select(options))
    if (this.sweepArmed === 0) this.armSweep()
    return lease
  }

  /** A released lease's outcome (its counts already settled): feeds latency and outlier detection. */
  private readonly onLeaseSettled = (state: EndpointState, outcome: LeaseOutcome): void => {
    // A double returned by a call the JIT does not inline is boxed (16 bytes per release), and the
    // injected clock's now() is such a call: read performance.now() directly when it is the clock.
    this.context.now = this.systemTime ? performance.now() : this.clock.now()
    const latency = typeof outcome.latency === 'number' && outcome.latency >= 0 ? outcome.latency : 0
    if (outcome.ok) {
      state.consecutiveFailures = 0
      this.latency.observe(state, latency)
      return
    }
    // The caller gave up, or its request was invalid: no evidence about the endpoint either way.
    // Unless it was cancelled because another endpoint answered first (a hedge won): it took at
    // least `latency`, which raises its average if higher and is no failure (the loser of a race
    // would otherwise look idle and fast, and get the next request).
    if (outcome.kind === 'cancelled') {
      if (outcome.censored === true) this.latency.observeAtLeast(state, latency)
      return
    }
    state.failures++
    // A failure counts as at least failurePenalty, so a pod answering fast 503s does not look fast.
    this.latency.observe(state, Math.max(latency, this.options.failurePenalty))
    if (this.closed || state.removed) return
    const kind = outcome.kind
    if (kind === 'connect-refused') this.requestRefresh()
    if (state === this.primaryState) this.prober?.requestSoon()
    if (this.detector.shouldEject(state, kind)) this.eject(state, kind, outcome.error)
  }

  private armSweep(): void {
    if (this.closed) return
    this.sweepArmed = 1
    this.sweepTimer = this.clock.setTimeout(this.onSweep, this.stalls.interval)
  }

  /** Stall detection's sweep (see StallDetector); runs while requests are out. */
  private sweep(): void {
    this.sweepArmed = 0
    this.sweepTimer = undefined
    if (this.closed) return
    const now = this.clock.now()
    this.context.now = now
    const { changed, busy } = this.stalls.sweep(this.members, now, this.options.ewmaDecay, this.censor)
    if (changed) {
      debug(
        '%s: stalled %s',
        this.service,
        this.members
          .filter((s) => s.stalled !== 0)
          .map((s) => s.id)
          .join(', ') || 'none',
      )
      this.rebuild()
      if (this.listenerCount('stall') > 0) {
        for (const state of [...this.stalls.transitions]) {
          this.emit('stall', {
            endpoint: state.endpoint,
            stalled: state.stalled !== 0,
            waited: state.stallTicks * this.stalls.interval,
          })
        }
      }
    }
    if (busy) this.armSweep()
  }

  /**
   * Asks discovery for a fresh answer after a refused connect. A source the caller gave may have
   * been closed under an open pool: release() must not throw for that.
   */
  private requestRefresh(): void {
    try {
      this.source.refresh()
    } catch (error) {
      debug('refresh after a refused connect failed: %s', (error as Error).message)
    }
  }

  /** A snapshot for dashboards and tests. Allocates; not for the per-request path. */
  stats(): PoolStats {
    const now = this.clock.now()
    return {
      service: this.service,
      balancer: this.options.balancer,
      panic: this.inPanic,
      stale: this.closed ? false : this.source.stale,
      primary: this.primaryState?.endpoint,
      ejectionsPrevented: this.ejectionsPrevented,
      unhandledErrors: this.unhandledErrors,
      endpointsAge:
        this.source.answeredAt === undefined ? undefined : Math.max(0, now - this.source.answeredAt),
      endpoints: this.members.map((s) => ({
        endpoint: s.endpoint,
        state: s.health,
        role: s.role,
        inFlight: s.inFlight,
        requests: s.requests,
        failures: s.failures,
        consecutiveFailures: s.consecutiveFailures,
        waiting: s.waiting,
        stalled: s.stalled !== 0,
        ewma: this.latency.current(s, now),
        ejections: s.ejections,
        ejectedFor: s.ejected ? Math.max(0, s.ejectedUntil - now) : 0,
        checksFailed: s.checksFailed,
      })),
    }
  }

  /** Stops checks, probes, timers and (if the pool created it) discovery. Idempotent. */
  close(): Promise<void> {
    if (this.closing) return this.closing
    this.closed = true
    this.plain = false
    this.source.off('change', this.onSourceChange)
    this.source.off('error', this.onSourceError)
    this.source.off('resolution', this.onSourceResolution)
    this.stopMetrics?.()
    this.checker?.close()
    this.prober?.close()
    for (const state of this.members) this.clearTimer(state)
    if (this.sweepTimer !== undefined) this.clock.clearTimeout(this.sweepTimer)
    this.sweepTimer = undefined
    this.anyBalancer.update([], [])
    this.replicaBalancer.update([], [])
    this.primaryState = undefined
    this.closing = this.ownsSource ? this.source.close() : Promise.resolve()
    return this.closing
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  // ---- selection (per request) ----

  private select(options: PickOptions | undefined): EndpointState {
    if (this.closed) throw new ClosedError('pool', this.service)
    // Ramping shares depend on time; read the clock only while some endpoint ramps.
    if (this.rampingCount > 0) this.context.now = this.clock.now()
    if (options === undefined) {
      return this.anyBalancer.pick(undefined, undefined) ?? this.throwNoEndpoints('any', undefined)
    }
    const key = options.key
    const exclude = options.exclude
    // One type check, on the path with options only: a lone endpoint or id would otherwise be
    // read as an empty list and exclude nothing, sending a retry back to the endpoint that failed.
    if (exclude !== undefined && !Array.isArray(exclude)) {
      throw invalidType('pick options.exclude', 'an array of endpoints or endpoint ids', exclude)
    }
    let state: EndpointState | undefined
    switch (selectionPlan(options.role, options.readPreference)) {
      case SELECT_ANY:
        state = this.anyBalancer.pick(key, exclude)
        if (state === undefined) this.throwNoEndpoints('any', exclude)
        return state
      case SELECT_PRIMARY:
        state = this.pickPrimary(exclude)
        if (state === undefined) this.throwNoPrimary(exclude)
        return state
      case SELECT_REPLICA:
        state = this.replicaBalancer.pick(key, exclude)
        if (state === undefined) this.throwNoEndpoints('replica', exclude)
        return state
      case SELECT_PRIMARY_PREFERRED:
        state = this.pickPrimary(exclude) ?? this.replicaBalancer.pick(key, exclude)
        if (state === undefined) this.throwNoEndpoints('primaryPreferred', exclude)
        return state
      case SELECT_REPLICA_PREFERRED:
        state = this.replicaBalancer.pick(key, exclude) ?? this.pickPrimary(exclude)
        if (state === undefined) this.throwNoEndpoints('replicaPreferred', exclude)
        return state
      case SELECT_NEAREST:
        state = this.nearestBalancer.pick(exclude)
        if (state === undefined) this.throwNoEndpoints('nearest', exclude)
        return state
    }
  }

  private pickPrimary(exclude: Exclusions): EndpointState | undefined {
    const primary = this.primaryState
    if (primary === undefined || !primary.eligible) return undefined
    if (exclude !== undefined && isExcluded(primary, exclude)) return undefined
    return primary
  }

  private throwNoEndpoints(wanted: WantedGroup, exclude: Exclusions): never {
    const reason = noEndpointsReason(wanted, this.members, this.options.primary, this.primaryState, exclude)
    throw new NoEndpointsError(this.service, reason, { endpoints: this.members.map((s) => s.endpoint) })
  }

  private throwNoPrimary(exclude: Exclusions): never {
    const primary = this.primaryState
    const reason = noPrimaryReason(this.options.primary, primary, exclude)
    throw new NoPrimaryError(this.service, reason, { endpoints: primary ? [primary.endpoint] : [] })
  }

  // ---- membership ----

  private sync(endpoints: ReadonlyArray<Endpoint>): void {
    const now = this.clock.now()
    this.context.now = now
    const seen = new Set<string>()
    const members: EndpointState[] = []
    let added = false
    let moved: EndpointState[] | undefined
    for (const endpoint of endpoints) {
      if (seen.has(endpoint.id)) continue
      seen.add(endpoint.id)
      let state = this.states.get(endpoint.id)
      if (state === undefined) {
        state = this.addState(endpoint, now)
        added = true
      } else if (state.endpoint !== endpoint) {
        // Same pod: load, latency and the ejection count carry over.
        const previous = state.endpoint
        state.endpoint = endpoint
        state.weight = endpoint.weight ?? 1
        state.priority = endpoint.priority ?? 0
        if (this.options.primary.kind !== 'probe') state.role = staticRole(endpoint, this.options.primary)
        if (!sameAddress(previous, endpoint)) {
          this.readdress(state, now)
          moved ??= []
          moved.push(state)
        }
      }
      state.index = members.length
      members.push(state)
    }
    for (const [id, state] of this.states) {
      if (!seen.has(id)) this.removeState(state)
    }
    this.members = members
    if (members.length > 0) this.seeded = true
    if (moved) {
      for (const state of moved) {
        this.updateHealth(state, 'address-changed', state.checkHealthy ? undefined : 'pending')
      }
    }
    this.rebuild()
    if (added || moved) this.prober?.requestSoon()
  }

  /**
   * A pod rescheduled to a new address is a new server behind an old name (Envoy and grpc-js key
   * this state by address). What the old address earned says nothing about it: an ejection (often
   * for refused connects, which is how a pod's death shows), a failure streak, a check or probe in
   * flight, the role a probe reported. It starts as a new endpoint does: at the initial health
   * state, checked and probed at once, ramping under slow start. The ejection count stays, so a
   * pod that keeps failing after reschedules is still ejected for longer each time.
   */
  private readdress(state: EndpointState, now: number): void {
    this.clearTimer(state)
    this.endRamp(state)
    if (state.ejected) {
      state.ejected = false
      this.ejectedCount--
      state.returnedAt = now
    }
    state.inProbation = false
    state.consecutiveFailures = 0
    state.checkPasses = 0
    state.checkFailures = 0
    state.checkHealthy = this.options.healthCheck?.initialState !== 'unhealthy'
    this.probed.delete(state)
    const slowStart = this.options.slowStart
    if (slowStart.window > 0) this.startRamp(state, now, slowStart.window, slowStart.minShare)
    this.checker?.restart(state)
  }

  private addState(endpoint: Endpoint, now: number): EndpointState {
    const state = new EndpointState(endpoint)
    this.states.set(state.id, state)
    state.role = staticRole(endpoint, this.options.primary)
    if (this.options.healthCheck?.initialState === 'unhealthy') {
      state.checkHealthy = false
      state.health = 'pending'
    }
    this.latency.seed(state)
    const slowStart = this.options.slowStart
    if (this.seeded && slowStart.window > 0) this.startRamp(state, now, slowStart.window, slowStart.minShare)
    this.checker?.add(state)
    return state
  }

  private removeState(state: EndpointState): void {
    this.states.delete(state.id)
    state.removed = true
    state.eligible = false
    this.clearTimer(state)
    this.endRamp(state)
    if (state.ejected) {
      state.ejected = false
      this.ejectedCount--
    }
    this.checker?.remove(state)
    this.probed.delete(state)
  }

  // ---- health ----

  private onCheckResult(state: EndpointState, passed: boolean, error: unknown): void {
    if (this.closed || state.removed) return
    const { healthyThreshold, unhealthyThreshold } = this.options.healthCheck!
    if (this.listenerCount('check') > 0) {
      this.emit(
        'check',
        passed ? { endpoint: state.endpoint, passed } : { endpoint: state.endpoint, passed, error },
      )
    }
    if (passed) {
      state.checkFailures = 0
      state.checkPasses++
      if (!state.checkHealthy && state.checkPasses >= healthyThreshold) {
        state.checkHealthy = true
        this.updateHealth(state, 'check-passed')
      }
    } else {
      state.checkPasses = 0
      state.checkFailures++
      state.checksFailed++
      if (state.health === 'pending') this.updateHealth(state, 'check-failed', 'unhealthy')
      else if (state.checkHealthy && state.checkFailures >= unhealthyThreshold) {
        state.checkHealthy = false
        this.updateHealth(state, 'check-failed')
      }
    }
  }

  private eject(state: EndpointState, kind: FailureKind | undefined, error: unknown): void {
    if (!this.detector.mayEject(this.ejectedCount, this.members.length)) {
      this.ejectionsPrevented++
      debug('not ejecting %s: maxEjectionPercent reached', state.id)
      return
    }
    const now = this.clock.now()
    const reason: EjectEvent['reason'] = state.inProbation
      ? 'probation'
      : kind === 'connect-refused' && this.options.outlierDetection.ejectOnConnectRefused
        ? 'connect-refused'
        : 'consecutive-failures'
    const duration = this.detector.ejectionTime(state, now)
    this.clearTimer(state)
    this.endRamp(state)
    state.inProbation = false
    state.ejected = true
    state.ejectedUntil = now + duration
    state.ejections++
    this.ejectedCount++
    state.timer = this.clock.setTimeout(() => this.returnFromEjection(state), duration)
    // The ejection takes effect (pickers rebuilt) before anyone hears of it, as in updateHealth.
    const previous = state.health
    state.health = 'ejected'
    this.rebuild()
    if (debug.enabled) {
      debug(
        '%s: ejected %s for %d ms (%s, ejection %d): %s',
        this.service,
        describeEndpoint(state.endpoint),
        Math.round(duration),
        reason,
        state.ejections,
        describeError(error),
      )
    }
    this.emit('eject', { endpoint: state.endpoint, duration, ejections: state.ejections, reason, error })
    if (previous !== 'ejected') {
      this.emit('health', { endpoint: state.endpoint, state: 'ejected', previous, reason: 'ejected' })
    }
  }

  private returnFromEjection(state: EndpointState): void {
    state.timer = undefined
    if (this.closed || state.removed || !state.ejected) return
    const now = this.clock.now()
    state.ejected = false
    this.ejectedCount--
    state.returnedAt = now
    state.consecutiveFailures = 0
    const probation = this.options.outlierDetection.probation
    if (probation > 0) {
      state.inProbation = true
      this.startRamp(state, now, probation, 0.1)
    }
    if (debug.enabled) {
      debug(
        '%s: %s returns from ejection%s',
        this.service,
        describeEndpoint(state.endpoint),
        probation > 0 ? ` (probation ${probation} ms)` : '',
      )
    }
    this.updateHealth(state, 'returned')
  }

  private startRamp(state: EndpointState, now: number, window: number, from: number): void {
    this.clearTimer(state)
    if (state.ramping === 0) this.rampingCount++
    state.ramping = 1
    this.plain = false
    state.rampStart = now
    state.rampEnd = now + window
    state.rampFrom = from
    state.timer = this.clock.setTimeout(() => {
      state.timer = undefined
      this.endRamp(state)
      if (state.inProbation && !this.closed && !state.removed) {
        state.inProbation = false
        this.updateHealth(state, 'probation-ended')
      }
    }, window)
  }

  private endRamp(state: EndpointState): void {
    if (state.ramping === 0) return
    state.ramping = 0
    state.rampEnd = 0
    this.rampingCount--
    this.plain = this.rampingCount === 0 && !this.closed
  }

  private clearTimer(state: EndpointState): void {
    if (state.timer !== undefined) this.clock.clearTimeout(state.timer)
    state.timer = undefined
  }

  private updateHealth(state: EndpointState, reason: string, forced?: EndpointHealth): void {
    const previous = state.health
    const next: EndpointHealth =
      forced ??
      (state.ejected
        ? 'ejected'
        : !state.checkHealthy
          ? previous === 'pending'
            ? 'pending'
            : 'unhealthy'
          : state.inProbation
            ? 'probation'
            : 'healthy')
    if (next === previous) return
    state.health = next
    // Pickers first: a listener that throws must not leave them routing by the old health.
    this.rebuild()
    if (debug.enabled) {
      debug('%s: %s %s -> %s (%s)', this.service, describeEndpoint(state.endpoint), previous, next, reason)
    }
    this.emit('health', { endpoint: state.endpoint, state: next, previous, reason })
  }

  // ---- roles ----

  private onProbeResult(state: EndpointState, role: 'primary' | 'replica' | 'unknown'): void {
    if (this.closed || state.removed) return
    const previous = this.probed.get(state)
    // A failed probe (`unknown`) is no news about the role, so it keeps the endpoint's seniority as
    // primary: an old primary not yet fenced whose probe timed out once during the failover must not
    // then look newer than the promoted standby. Only a `replica` answer ends the run.
    const since = previous !== undefined && previous.primarySince > 0 ? previous.primarySince : 0
    const primarySince =
      role === 'replica' ? 0 : role === 'unknown' ? since : since > 0 ? since : this.clock.now()
    this.probed.set(state, { role, primarySince })
    this.rebuild()
  }

  /** Roles under a probe: the chosen primary; other claimants are `unknown` (never replicas). */
  private applyProbedRoles(): void {
    const probed: ProbedRole[] = []
    for (const state of this.members) {
      const p = this.probed.get(state)
      if (p) probed.push({ id: state.id, role: p.role, primarySince: p.primarySince })
    }
    const primaryId = choosePrimary(probed)
    for (const state of this.members) {
      const role = this.probed.get(state)?.role ?? 'unknown'
      state.role = state.id === primaryId ? 'primary' : role === 'primary' ? 'unknown' : role
    }
  }

  // ---- pickers (rebuilt on change, never per request) ----

  private rebuild(): void {
    if (this.closed) return
    if (this.options.primary.kind === 'probe') this.applyProbedRoles()
    const members = this.members
    // `pending` endpoints (initialState 'unhealthy', not yet checked) count neither way and are
    // never routed to, even in panic: otherwise a fresh pool would panic and defeat the option.
    let fit = 0
    let fitLevel = Number.POSITIVE_INFINITY
    let checkedLevel = Number.POSITIVE_INFINITY
    for (const state of members) {
      if (state.health === 'pending') continue
      if (state.priority < checkedLevel) checkedLevel = state.priority
      if (state.health === 'healthy' || state.health === 'probation') {
        fit++
        if (state.priority < fitLevel) fitLevel = state.priority
      }
    }
    // The SRV priority level traffic goes to (below): the lowest with a fit endpoint, else the
    // lowest with a checked one. Its size is the panic threshold's denominator, and every fit
    // endpoint counts (all are at that level or a later one, where failover would send the
    // traffic): so a less-preferred level, even a dead one, never pushes the preferred level into
    // panic. With one level (CoreDNS: priority 0 for all) this is fit / all checked endpoints.
    const level = fitLevel === Number.POSITIVE_INFINITY ? checkedLevel : fitLevel
    let total = 0
    for (const state of members) if (state.health !== 'pending' && state.priority === level) total++
    // Envoy's panic threshold: with too few fit endpoints, spreading load over all of them beats
    // overloading the few (and the checks may be the ones that are wrong).
    const panic = this.options.panicThreshold > 0 && total > 0 && fit / total < this.options.panicThreshold
    // SRV priority (RFC 2782): each group (any role, replicas, nearest) is served by its lowest
    // priority level that has a fit endpoint, and fails over to the next level only when that one
    // has none (gRPC's priority LB). In panic, that level's unfit endpoints join it; when no level
    // has a fit endpoint, panic serves the lowest level that has any. Per-endpoint `eligible`
    // stays health-only: the primary is one endpoint, taken whatever its priority.
    const any = new LevelFinder()
    const replica = new LevelFinder()
    const nearest = new LevelFinder()
    let primary: EndpointState | undefined
    for (const state of members) {
      const fitNow = state.health === 'healthy' || state.health === 'probation'
      state.eligible = fitNow || (panic && state.health !== 'pending')
      if (state.role === 'primary' && primary === undefined) primary = state
      any.add(state, fitNow)
      if (state.role === 'replica') replica.add(state, fitNow)
      if (state.role !== 'unknown') nearest.add(state, fitNow)
    }
    const anyLevel = any.level()
    const replicaLevel = replica.level()
    this.nearestBalancer.update(members, nearest.level())
    // A balancer sees the members of its level only: consistent hashing places keys on them (and
    // tests `state.eligible`, which is true of fit endpoints at every level).
    // Stalled endpoints (StallDetector) are left out of a group's picks, unless every eligible
    // endpoint of the group is stalled: then all of them, as an endpoint that may answer late
    // beats none.
    const eligible: EndpointState[] = []
    const levelMembers: EndpointState[] = []
    const replicasEligible: EndpointState[] = []
    const replicas: EndpointState[] = []
    let stalledAny = false
    let stalledReplica = false
    for (const state of members) {
      if (state.priority === anyLevel) {
        levelMembers.push(state)
        if (state.eligible) {
          if (state.stalled === 0) eligible.push(state)
          else stalledAny = true
        }
      }
      if (state.role === 'replica' && state.priority === replicaLevel) {
        replicas.push(state)
        if (state.eligible) {
          if (state.stalled === 0) replicasEligible.push(state)
          else stalledReplica = true
        }
      }
    }
    if (stalledAny && eligible.length === 0) for (const s of levelMembers) if (s.eligible) eligible.push(s)
    if (stalledReplica && replicasEligible.length === 0) {
      for (const s of replicas) if (s.eligible) replicasEligible.push(s)
    }
    this.anyBalancer.update(eligible, levelMembers)
    this.replicaBalancer.update(replicasEligible, replicas)
    const previousPrimary = this.primaryState
    this.primaryState = primary
    if (panic !== this.inPanic) {
      this.inPanic = panic
      debug('%s: panic mode %s (%d of %d endpoints fit)', this.service, panic ? 'begins' : 'ends', fit, total)
      this.emit('panic', { panic, healthy: fit, total })
    }
    if (primary !== previousPrimary) {
      if (debug.enabled) {
        debug(
          '%s: primary %s -> %s',
          this.service,
          previousPrimary === undefined ? 'none' : describeEndpoint(previousPrimary.endpoint),
          primary === undefined ? 'none' : describeEndpoint(primary.endpoint),
        )
      }
      this.emit('primary', { primary: primary?.endpoint, previous: previousPrimary?.endpoint })
    }
  }

  /** @internal Exposed for tests: the number of currently ejected endpoints. */
  get ejected(): number {
    return this.ejectedCount
  }
}

/**
 * Finds a group's SRV priority level in one pass over its members: the lowest priority with a fit
 * endpoint, else (panic) the lowest with an eligible one, else the lowest of all, so that a group
 * with nothing eligible keeps the level (and consistent hashing its table) it would return to.
 */
class LevelFinder {
  private fit = Number.POSITIVE_INFINITY
  private eligible = Number.POSITIVE_INFINITY
  private lowest = Number.POSITIVE_INFINITY

  add(state: EndpointState, fit: boolean): void {
    const p = state.priority
    if (p < this.lowest) this.lowest = p
    if (fit) {
      if (p < this.fit) this.fit = p
    } else if (state.eligible && p < this.eligible) this.eligible = p
  }

  level(): number {
    return this.fit !== Number.POSITIVE_INFINITY
      ? this.fit
      : this.eligible !== Number.POSITIVE_INFINITY
        ? this.eligible
        : this.lowest
  }
}

function createBalancer(name: BalancerName, context: PickContext): Balancer {
  switch (name) {
    case 'round-robin':
      return new RoundRobinBalancer(context)
    case 'random':
      return new RandomBalancer(context)
    case 'least-request':
      return new LeastRequestBalancer(context)
    case 'peak-ewma':
      return new PeakEwmaBalancer(context)
    case 'consistent-hash':
      return new ConsistentHashBalancer(context)
  }
}

/** A failure in one short phrase for the debug log: its code, else its message. */
function describeError(error: unknown): string {
  if (error === undefined || error === null) return 'no error given'
  const code = (error as { code?: unknown }).code
  if (typeof code === 'string') return code
  return (error as Error).message ?? String(error)
}
