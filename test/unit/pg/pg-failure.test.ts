import { describe, expect, it } from 'vitest'
import { classifyPgError } from '../../../src/pg/index.js'

/** A server error as pg builds it (pg-protocol's DatabaseError): a severity and a SQLSTATE. */
function serverError(code: string): Error {
  return Object.assign(new Error(`server error ${code}`), { severity: 'ERROR', code })
}

describe('classifyPgError', () => {
  it.each([
    ['25006', 'other', false], // read-only transaction: a write reached a server in recovery
    ['57P01', 'reset', true], // admin_shutdown
    ['57P03', 'reset', true], // cannot_connect_now
    ['57014', 'timeout', false], // statement_timeout
    ['08006', 'reset', true], // connection_failure
    ['53300', 'other', false], // too_many_connections
    ['XX000', 'other', false], // internal_error
  ])('SQLSTATE %s is a failure of the endpoint (%s, broken connection: %s)', (code, kind, broken) => {
    expect(classifyPgError(serverError(code))).toEqual({ endpointFailure: true, kind, broken })
  })

  it.each(['42601', '23505', '40001', '40P01', '22P02', '42P01'])(
    "SQLSTATE %s is the caller's error: a success for the endpoint",
    (code) => {
      expect(classifyPgError(serverError(code))).toMatchObject({ endpointFailure: false, broken: false })
    },
  )

  it.each([
    [Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 'connect-refused'],
    [Object.assign(new Error('connect ETIMEDOUT'), { code: 'ETIMEDOUT' }), 'connect-timeout'],
    [Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), 'reset'],
    [Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }), 'reset'],
    [new Error('timeout exceeded when trying to connect'), 'connect-timeout'],
    [new Error('Connection terminated unexpectedly'), 'reset'],
    [new Error('Query read timeout'), 'timeout'],
    [new Error('something else'), 'other'],
  ])('%s is a failure of the endpoint (%s) that breaks the connection', (error, kind) => {
    expect(classifyPgError(error)).toEqual({ endpointFailure: true, kind, broken: true })
  })

  it("treats pg's TypeError for a query it cannot send as the caller's", () => {
    expect(classifyPgError(new TypeError('Client was passed a null or undefined query'))).toMatchObject({
      endpointFailure: false,
    })
  })

  it('does not take an errno code of five letters (EPIPE) for a SQLSTATE', () => {
    expect(classifyPgError(Object.assign(new Error('x'), { code: 'EPIPE' })).kind).toBe('reset')
  })
})
