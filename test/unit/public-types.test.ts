// Type tests of the public overloads and events: `npm run typecheck` checks them (a wrong type,
// or a `@ts-expect-error` that no longer errors, fails it); at run time the expectations are no-ops
// and nothing is created. etc/*.api.md says what the types are; these say how they behave.
import { describe, expectTypeOf, it } from 'vitest'
import {
  type AttemptEndEvent,
  type AttemptEvent,
  type BalancedDispatcher,
  createClient,
  createEndpointSource,
  createPool,
  type Endpoint,
  type EndpointChange,
  type EndpointSource,
  type HeadlessClient,
  HeadlessLbError,
  type HeadlessLbErrorCode,
  type HealthChangeReason,
  type HealthEvent,
  type HedgeEvent,
  type LeasePool,
  type Pool,
  type PoolEvents,
  type ResolutionEvent,
  type RetryEvent,
} from '../../src/index.js'
import type { Clock, PoolInternals } from '../../src/testing/index.js'

/** Type positions only: never called. */
declare const client: HeadlessClient
declare const dispatcher: BalancedDispatcher
declare const pool: Pool
declare const source: EndpointSource
declare const leasePool: LeasePool & { readonly mine: true }

describe('public types', () => {
  it('createClient: without pool it makes a Pool; with one it keeps its type and takes no pool options', () => {
    expectTypeOf(createClient).toBeCallableWith({ origin: 'http://web:8080', balancer: 'random' })
    expectTypeOf<ReturnType<typeof createClient<typeof leasePool>>>().toEqualTypeOf<
      HeadlessClient<typeof leasePool>
    >()
    const make = () => {
      expectTypeOf(createClient({ origin: 'http://web:8080' })).toEqualTypeOf<HeadlessClient<Pool>>()
      expectTypeOf(createClient({ origin: 'http://web', pool: leasePool }).pool.mine).toEqualTypeOf<true>()
      // @ts-expect-error pool options belong to createPool when the pool is given
      createClient({ origin: 'http://web', pool: leasePool, balancer: 'random' })
      // @ts-expect-error the origin's host names the service
      createClient({ origin: 'http://web', service: 'web' })
      // @ts-expect-error no such balancer
      createClient({ origin: 'http://web', balancer: 'fastest' })
    }
    expectTypeOf(make).toBeFunction()
  })

  it("HeadlessClient and BalancedDispatcher: each event's listener gets its payload; unknown events are errors", () => {
    const listen = () => {
      client.on('attempt', (event) => expectTypeOf(event).toEqualTypeOf<AttemptEvent>())
      client.on('attempt-end', (event) => expectTypeOf(event).toEqualTypeOf<AttemptEndEvent>())
      client.once('retry', (event) => expectTypeOf(event).toEqualTypeOf<RetryEvent>())
      client.off('hedge', (event: HedgeEvent) => expectTypeOf(event).toEqualTypeOf<HedgeEvent>())
      // @ts-expect-error undici's events are the dispatcher's, not the client's
      client.on('drain', () => {})
      // @ts-expect-error a retry listener does not take an attempt
      client.on('retry', (_event: AttemptEvent) => {})
      dispatcher.on('retry', (event) => expectTypeOf(event).toEqualTypeOf<RetryEvent>())
      dispatcher.on('hedge', (event) => expectTypeOf(event).toEqualTypeOf<HedgeEvent>())
      dispatcher.on('drain', () => {})
      expectTypeOf(dispatcher.off('attempt', () => {})).toEqualTypeOf<BalancedDispatcher>()
    }
    expectTypeOf(listen).toBeFunction()
  })

  it('Pool and sources: typed events, and health reasons are a closed set', () => {
    expectTypeOf<HealthEvent['reason']>().toEqualTypeOf<HealthChangeReason>()
    expectTypeOf<'ejected'>().toExtend<HealthChangeReason>()
    expectTypeOf<'unhealthy'>().not.toExtend<HealthChangeReason>()
    expectTypeOf<PoolEvents['health']>().toEqualTypeOf<[HealthEvent]>()
    const listen = () => {
      pool.on('health', (event) => expectTypeOf(event.reason).toEqualTypeOf<HealthChangeReason>())
      pool.on('change', (change) => expectTypeOf(change).toEqualTypeOf<EndpointChange>())
      // @ts-expect-error no such event
      pool.on('healthy', () => {})
      source.on('resolution', (event) => expectTypeOf(event).toEqualTypeOf<ResolutionEvent>())
      source.on('change', (change) => expectTypeOf(change.endpoints).toEqualTypeOf<ReadonlyArray<Endpoint>>())
      expectTypeOf(createEndpointSource({ service: 'web', port: 80 })).toEqualTypeOf<EndpointSource>()
    }
    expectTypeOf(listen).toBeFunction()
  })

  it('the test seams come from headless-lb/testing and fit the factories', () => {
    expectTypeOf(createPool).parameter(1).toEqualTypeOf<PoolInternals | undefined>()
    expectTypeOf<PoolInternals['clock']>().toEqualTypeOf<Clock | undefined>()
  })

  it('errors carry a code from a closed union', () => {
    expectTypeOf<HeadlessLbError['code']>().toEqualTypeOf<HeadlessLbErrorCode>()
    expectTypeOf(HeadlessLbError.errorCode).toEqualTypeOf<HeadlessLbErrorCode | undefined>()
  })
})
