import { EventEmitter } from 'node:events'
import { performance } from 'node:perf_hooks'
import { debuglog } from 'node:util'
import type { Balancer, Exclusions } from '../balancing/balancer.js'
import { PickContext } from '../balancing/balancer.js'
import type { ResolvedBalancingOptions } from '../balancing/balancing-options.js'
import { LatencyTracker } from '../balancing/latency-tracker.js'
import { RoutingTable } from '../balancing/routing-table.js'
import type { EndpointSource, ReadyOptions, ResolutionEvent } from '../discovery/endpoint-source.js'
import type { Endpoint, EndpointChange } from '../endpoint.js'
import { describeEndpoint } from '../endpoint.js'
import { ClosedError, NoEndpointsError, NoPrimaryError } from '../errors.js'
import type { EndpointState } from '../health/endpoint-state.js'
import { HealthTracker } from '../health/health-tracker.js'
import type { Clock } from '../internal/clock.js'
import { systemClock } from '../internal/clock.js'
import type { Lease, LeaseOutcome, PickOptions } from '../lease.js'
import { chooseMeterProvider } from '../metrics/meter-provider.js'
import { recordPoolMetrics } from '../metrics/pool-metrics.js'
import { invalidType } from '../options.js'
import { PrimaryTracker } from '../roles/primary-tracker.js'
import { SELECT_PRIMARY, type SelectionPlan, selectionPlan } from '../roles/roles.js'
import type { PoolInternals } from './create-pool.js'
import { Leases } from './leases.js'
import { Membership } from './membership.js'
import type { WantedGroup } from './no-endpoint-reason.js'
import { noEndpointsReason, noPrimaryReason, wantedGroup } from './no-endpoint-reason.js'
import type { PoolControl } from './pool-control.js'
import type { PoolEvents, PoolStats } from './pool-events.js'

const debug = debuglog('headless-lb')

/**
 * The live, health-checked endpoint set of one service, and the balancers that pick from it.
 * `pick` and `acquire` are synchronous and allocation-free: pickers are rebuilt when the set or
 * health changes, never per request.
 *
 * A coordinator: Membership applies discovery's changes, HealthTracker runs each endpoint's
 * health state machine and its timers, LatencyTracker the peak-EWMA averages, RoutingTable the
 * balancers, panic and SRV levels, PrimaryTracker probed roles, Leases the lease objects. The
 * parts reach the pool only through `control` (PoolControl); the pool wires them, rebuilds the
 * routing when they report a change, emits the events and answers stats() and close().
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
  private readonly health: HealthTracker
  /** Roles by probe (`primary: { probe }`), else undefined: roles come from the endpoints. */
  private readonly primaries: PrimaryTracker | undefined
  /** Stops recording metrics (set when a MeterProvider was given or registered globally). */
  private readonly stopMetrics: (() => void) | undefined

  private readonly membership: Membership
  private readonly routing: RoutingTable
  /** `routing.any`, held here so the option-less pick is one load shorter. */
  private readonly anyBalancer: Balancer
  private readonly leases: Leases
  private readonly latency: LatencyTracker

  /** Open and nothing ramping: `pick()` without options may skip straight to the balancer. */
  private plain = true
  private unhandledErrors = 0
  private closed = false
  private closing: Promise<void> | undefined

  /** What the parts may ask of the pool (see PoolControl): rebuild the pickers, then tell listeners. */
  private readonly control: PoolControl = {
    healthChanged: (state, previous, reason) => {
      // Pickers first: a listener that throws must not leave them routing by the old health.
      this.rebuild()
      this.emit('health', { endpoint: state.endpoint, state: state.health, previous, reason })
    },
    ejected: (state, event, previous) => {
      // The ejection takes effect (pickers rebuilt) before anyone hears of it, as a health change.
      this.rebuild()
      this.emit('eject', event)
      if (previous !== 'ejected') {
        this.emit('health', { endpoint: state.endpoint, state: 'ejected', previous, reason: 'ejected' })
      }
    },
    checked: (state, passed, error) => {
      if (this.listenerCount('check') === 0) return
      this.emit(
        'check',
        passed ? { endpoint: state.endpoint, passed } : { endpoint: state.endpoint, passed, error },
      )
    },
    stallsChanged: (transitions, interval) => {
      this.rebuild()
      if (this.listenerCount('stall') === 0) return
      for (const state of [...transitions]) {
        this.emit('stall', {
          endpoint: state.endpoint,
          stalled: state.stalled !== 0,
          waited: state.stallTicks * interval,
        })
      }
    },
    rampingChanged: (ramping) => {
      this.plain = !ramping && !this.closed
    },
    requestRebuild: () => this.rebuild(),
  }

  private readonly onSourceChange = (change: EndpointChange): void => {
    if (this.closed) return
    this.sync(change)
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
    this.leases = new Leases(this.onLeaseSettled)
    this.membership = new Membership(options.primary, {
      added: (state, now, seeded) => {
        this.latency.seed(state)
        this.health.add(state, now, seeded)
      },
      // A new server behind an old name: what the old address earned, the role a probe reported
      // included, says nothing about it (see HealthTracker.readdress).
      readdressed: (state, now) => {
        this.health.readdress(state, now)
        this.primaries?.forget(state)
      },
      removed: (state) => {
        this.health.remove(state)
        this.primaries?.forget(state)
      },
    })
    this.latency = new LatencyTracker(this.context, this.membership.states)
    this.routing = new RoutingTable(
      options.balancer,
      this.context,
      options.panicThreshold,
      options.nearestThreshold,
    )
    this.anyBalancer = this.routing.any
    this.health = new HealthTracker(
      service,
      options,
      this.clock,
      this.random,
      this.context,
      () => this.members,
      (state, waited) => this.latency.observe(state, waited),
      this.control,
    )
    const primary = options.primary
    this.primaries =
      primary.kind === 'probe'
        ? new PrimaryTracker(primary, this.clock, () => this.members, this.control)
        : undefined
    source.on('change', this.onSourceChange)
    source.on('error', this.onSourceError)
    source.on('resolution', this.onSourceResolution)
    this.sync(Membership.initialChange(source.endpoints))
    const provider = chooseMeterProvider(options.meterProvider)
    this.stopMetrics = provider === undefined ? undefined : recordPoolMetrics(this, provider)
  }

  private get members(): ReadonlyArray<EndpointState> {
    return this.membership.members
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
    return this.routing.panic
  }

  /** The endpoint taking `role: 'primary'`, if one is known. */
  get primary(): Endpoint | undefined {
    return this.routing.primary?.endpoint
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
    if (this.health.sweepArmed === 0) this.health.armStallSweep()
    return lease
  }

  /** A released lease's outcome (its counts already settled): feeds latency and outlier detection. */
  private readonly onLeaseSettled = (state: EndpointState, outcome: LeaseOutcome, at: number): void => {
    // A double returned by a call the JIT does not inline is boxed (16 bytes per release), and the
    // injected clock's now() is such a call: read performance.now() directly when it is the clock.
    // A caller that has just read it passes its reading (`at`); the pool's "now" never goes back.
    const context = this.context
    if (!this.systemTime) context.now = this.clock.now()
    else if (at < 0) context.now = performance.now()
    else if (at > context.now) context.now = at
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
    // A failure counts as at least ewma.failurePenalty, so a pod answering fast 503s does not look fast.
    this.latency.observe(state, Math.max(latency, this.options.ewmaFailurePenalty))
    if (this.closed || state.removed) return
    const kind = outcome.kind
    if (kind === 'connect-refused') this.requestRefresh()
    if (state === this.routing.primary) this.primaries?.requestSoon()
    this.health.onLeaseFailure(state, kind, outcome.error)
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
      panic: this.routing.panic,
      stale: this.closed ? false : this.source.stale,
      primary: this.routing.primary?.endpoint,
      ejectionsPrevented: this.health.ejectionsPrevented,
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
    this.health.close()
    this.primaries?.close()
    this.routing.clear()
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
    if (this.plain === false) this.context.now = this.clock.now()
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
    const plan = selectionPlan(options.role, options.readPreference)
    return this.routing.select(plan, key, exclude) ?? this.throwFor(plan, exclude)
  }

  private throwFor(plan: SelectionPlan, exclude: Exclusions): never {
    if (plan === SELECT_PRIMARY) this.throwNoPrimary(exclude)
    this.throwNoEndpoints(wantedGroup(plan), exclude)
  }

  private throwNoEndpoints(wanted: WantedGroup, exclude: Exclusions): never {
    const reason = noEndpointsReason(
      wanted,
      this.members,
      this.options.primary,
      this.routing.primary,
      exclude,
    )
    throw new NoEndpointsError(this.service, reason, { endpoints: this.members.map((s) => s.endpoint) })
  }

  private throwNoPrimary(exclude: Exclusions): never {
    const primary = this.routing.primary
    const reason = noPrimaryReason(this.options.primary, primary, exclude)
    throw new NoPrimaryError(this.service, reason, { endpoints: primary ? [primary.endpoint] : [] })
  }

  // ---- membership ----

  private sync(change: EndpointChange): void {
    const now = this.clock.now()
    this.context.now = now
    const { moved, grew } = this.membership.apply(change, now)
    for (const state of moved) this.health.addressChanged(state)
    this.rebuild()
    if (grew) this.primaries?.requestSoon()
  }

  // ---- pickers (rebuilt on change, never per request) ----

  private rebuild(): void {
    if (this.closed) return
    this.primaries?.applyRoles(this.members)
    const routing = this.routing
    const wasPanic = routing.panic
    const previousPrimary = routing.primary
    routing.rebuild(this.members)
    const panic = routing.panic
    const primary = routing.primary
    if (panic !== wasPanic) {
      const { fit, total } = routing
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
    return this.health.ejectedCount
  }
}
