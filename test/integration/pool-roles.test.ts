import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Lab, type LabService, startLab } from '../../lab/index.js'
import { NoPrimaryError } from '../../src/errors.js'
import type { Pool, PrimaryEvent } from '../../src/pool.js'
import { createPool } from '../../src/pool.js'
import { until } from '../support/until.js'
import { nextPoolEvent } from './pool-support.js'

let lab: Lab
let svc: LabService
let pool: Pool

beforeAll(async () => {
  lab = await startLab({ ttl: 1 })
  svc = await lab.addService({ name: 'db', kind: 'headless', replicas: 3 })
  pool = createPool({
    service: svc.fqdn,
    portName: 'http',
    dns: { servers: [lab.dnsServer], search: [], ndots: 1 },
    primary: { ordinal: 0 },
  })
  await pool.ready()
})

afterAll(async () => {
  await pool?.close()
  await lab?.close()
})

describe('primary by StatefulSet ordinal, with pod names from SRV', () => {
  it('writes go to db-0, reads to the replicas', () => {
    for (let i = 0; i < 10; i++) expect(pool.pick({ role: 'primary' }).name).toBe('db-0')
    const reads = new Set(Array.from({ length: 10 }, () => pool.pick({ role: 'replica' }).name))
    expect(reads).toEqual(new Set(['db-1', 'db-2']))
  })

  it('when db-0 leaves DNS (unready), primary requests fail fast and never reach a replica', async () => {
    const gone = nextPoolEvent<PrimaryEvent>(pool, 'primary', (e) => e.primary === undefined)
    await svc.pod('db-0').setReady(false)
    expect(await gone).toMatchObject({ previous: { name: 'db-0' } })
    expect(() => pool.pick({ role: 'primary' })).toThrow(NoPrimaryError)
    expect(pool.pick({ readPreference: 'primaryPreferred' }).name).not.toBe('db-0')
    const back = nextPoolEvent<PrimaryEvent>(pool, 'primary', (e) => e.primary?.name === 'db-0')
    await svc.pod('db-0').setReady(true)
    await back
    await until('db-0 primary again', () => pool.pick({ role: 'primary' }).name === 'db-0')
  })
})
