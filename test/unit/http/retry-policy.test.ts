import { describe, expect, it } from 'vitest'
import {
  type AttemptFailure,
  describeFailure,
  explainNoRetry,
  type RetryDecision,
  RetryPolicy,
  type RetryState,
} from '../../../src/http/retry-policy.js'
import type { FailureKind } from '../../../src/lease.js'

const OPTIONS = {
  retries: 2,
  retryMethods: new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']),
  retryStatusCodes: new Set([502, 503, 504]),
  retryOnReset: true,
  retryOnTimeout: true,
  retryMinTimeout: 25,
  retryMaxTimeout: 250,
  factor: 2,
  randomize: false,
  maxRetryAfter: 1_000,
}

const policy = new RetryPolicy(OPTIONS)

/** A GET that reached the server, first attempt, budget to spare. */
const SENT_GET: RetryState = {
  attempt: 1,
  backoffs: 0,
  method: 'GET',
  sent: true,
  bodyReplayable: true,
  retryAfter: 0,
  budget: 10,
}

const error = (code: string) => Object.assign(new Error(code), { code })
const failure = (kind: FailureKind, code = 'E'): AttemptFailure => ({ kind, error: error(code) })
const status = (statusCode: number): AttemptFailure => ({ kind: 'status', statusCode })
const retryAfter = (delayMs: number): RetryDecision => ({ retry: true, delayMs, immediate: false })
const IMMEDIATE: RetryDecision = { retry: true, delayMs: 0, immediate: true }
const no = (why: string): RetryDecision => ({ retry: false, why }) as RetryDecision

describe('RetryPolicy.decide', () => {
  const table: Array<[string, AttemptFailure, Partial<RetryState>, RetryDecision]> = [
    // A request undici never wrote goes elsewhere at once, whatever its method or body.
    ['refused before sending, POST', failure('connect-refused'), { sent: false, method: 'POST' }, IMMEDIATE],
    ['never sent, one-shot body', failure('other'), { sent: false, bodyReplayable: false }, IMMEDIATE],
    [
      'never sent, no retries left',
      failure('connect-refused'),
      { sent: false, attempt: 3 },
      no('no-retries-left'),
    ],
    ['never sent, budget spent', failure('connect-refused'), { sent: false, budget: 0 }, no('budget')],
    // Sent: only idempotent methods with a replayable body, and only some failures.
    ['reset GET', failure('reset'), {}, retryAfter(25)],
    ['timeout GET', failure('timeout'), {}, retryAfter(25)],
    ['connect timeout GET', failure('connect-timeout'), {}, retryAfter(25)],
    ['refused after start GET', failure('connect-refused'), {}, retryAfter(25)],
    ['other GET', failure('other'), {}, no('not-retryable')],
    ['reset POST', failure('reset'), { method: 'POST' }, no('not-idempotent')],
    [
      'reset PUT, one-shot body',
      failure('reset'),
      { method: 'PUT', bodyReplayable: false },
      no('not-idempotent'),
    ],
    ['reset DELETE', failure('reset'), { method: 'DELETE' }, retryAfter(25)],
    // undici refused the request itself: never retried, sent or not.
    ['invalid argument', failure('other', 'UND_ERR_INVALID_ARG'), { sent: false }, no('request-fault')],
    [
      'content-length mismatch',
      failure('other', 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH'),
      {},
      no('request-fault'),
    ],
    // Statuses.
    ['503 GET', status(503), {}, retryAfter(25)],
    ['500 GET', status(500), {}, no('status-not-retried')],
    ['503 POST', status(503), { method: 'POST' }, no('not-idempotent')],
    ['503 GET, one-shot body', status(503), { bodyReplayable: false }, no('not-idempotent')],
    ['503 with Retry-After 1 s', status(503), { retryAfter: 1_000 }, retryAfter(1_025)],
    ['503 with Retry-After 2 s', status(503), { retryAfter: 2_000 }, no('retry-after-too-long')],
    // The count: `retries` retries after the first attempt, hedges counted as attempts.
    ['second attempt failed', failure('reset'), { attempt: 2, backoffs: 1 }, retryAfter(50)],
    ['third attempt failed', failure('reset'), { attempt: 3 }, no('no-retries-left')],
    ['third attempt, 503', status(503), { attempt: 3 }, no('no-retries-left')],
    // The budget: one retry left is enough.
    ['budget of one', failure('reset'), { budget: 1 }, retryAfter(25)],
    ['budget spent', failure('reset'), { budget: 0 }, no('budget')],
    ['budget spent, 503', status(503), { budget: 0 }, no('budget')],
    // The count is checked before the budget (no budget is spent once retries are out).
    ['both out', failure('reset'), { attempt: 3, budget: 0 }, no('no-retries-left')],
    // A long Retry-After is refused before the count and the budget are looked at.
    [
      'long Retry-After, budget spent',
      status(503),
      { retryAfter: 5_000, budget: 0 },
      no('retry-after-too-long'),
    ],
  ]
  it.each(table)('%s', (_name, f, state, expected) => {
    expect(policy.decide(f, { ...SENT_GET, ...state })).toEqual(expected)
  })

  it('turns retries on resets and timeouts off with onReset / onTimeout', () => {
    const strict = new RetryPolicy({ ...OPTIONS, retryOnReset: false, retryOnTimeout: false })
    expect(strict.decide(failure('reset'), SENT_GET)).toEqual(no('not-retryable'))
    expect(strict.decide(failure('timeout'), SENT_GET)).toEqual(no('not-retryable'))
    expect(strict.decide(failure('connect-timeout'), SENT_GET)).toEqual(retryAfter(25))
  })

  it('retries nothing with retries 0', () => {
    const none = new RetryPolicy({ ...OPTIONS, retries: 0 })
    expect(none.decide(failure('connect-refused'), { ...SENT_GET, sent: false })).toEqual(
      no('no-retries-left'),
    )
    expect(none.decide(status(503), SENT_GET)).toEqual(no('no-retries-left'))
  })
})

describe('RetryPolicy.backoff', () => {
  it('grows by factor per backoff, up to maxTimeout', () => {
    expect([0, 1, 2, 3, 4, 5].map((n) => policy.backoff(n))).toEqual([25, 50, 100, 200, 250, 250])
  })

  it('multiplies by a random factor in [1, 2) with randomize', () => {
    const low = new RetryPolicy({ ...OPTIONS, randomize: true }, () => 0)
    const high = new RetryPolicy({ ...OPTIONS, randomize: true }, () => 0.999)
    expect(low.backoff(1)).toBe(50)
    expect(high.backoff(1)).toBe(100)
    expect(high.backoff(4)).toBe(250)
  })

  it('waits nothing with minTimeout 0', () => {
    expect(new RetryPolicy({ ...OPTIONS, retryMinTimeout: 0 }).backoff(3)).toBe(0)
  })
})

describe('RetryPolicy.retriesStatus', () => {
  it('is the status half of the decision: code, method and body, without count or budget', () => {
    expect(policy.retriesStatus(503, 'GET', true)).toBe(true)
    expect(policy.retriesStatus(500, 'GET', true)).toBe(false)
    expect(policy.retriesStatus(503, 'POST', true)).toBe(false)
    expect(policy.retriesStatus(503, 'GET', false)).toBe(false)
  })
})

describe('messages', () => {
  it('describes a failure and why no retry was made', () => {
    expect(describeFailure(status(503))).toBe('status 503')
    expect(describeFailure(failure('reset', 'ECONNRESET'))).toBe('reset (ECONNRESET)')
    expect(describeFailure({ kind: 'other' })).toBe('other (unknown)')
    expect(explainNoRetry('no-retries-left', 2)).toBe('no retries left (retry.retries 2)')
  })
})
