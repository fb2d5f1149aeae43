import { describe, expect, it } from 'vitest'
import { parseResolvConf } from '../../../src/discovery/resolv-conf.js'
import { searchCandidates } from '../../../src/discovery/search-list.js'

const POD_SEARCH = ['default.svc.cluster.local', 'svc.cluster.local', 'cluster.local']

describe('parseResolvConf', () => {
  it('reads a pod resolv.conf', () => {
    const conf = parseResolvConf(
      'nameserver 10.96.0.10\nsearch default.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5 timeout:2\n',
    )
    expect(conf).toEqual({ nameservers: ['10.96.0.10'], search: POD_SEARCH, ndots: 5 })
  })

  it('lets the last search/domain line win, ignores comments, caps ndots at 15', () => {
    const conf = parseResolvConf('# c\nsearch a.example\ndomain B.example. ; x\noptions ndots:40\n')
    expect(conf).toEqual({ nameservers: [], search: ['b.example'], ndots: 15 })
  })

  it('defaults to ndots 1 and no search list', () => {
    expect(parseResolvConf('')).toEqual({ nameservers: [], search: [], ndots: 1 })
  })
})

describe('searchCandidates', () => {
  it('tries a short name with the search list first (ndots 5)', () => {
    expect(searchCandidates('web', POD_SEARCH, 5)).toEqual([
      'web.default.svc.cluster.local',
      'web.svc.cluster.local',
      'web.cluster.local',
      'web',
    ])
    expect(searchCandidates('web.other', POD_SEARCH, 5)[1]).toBe('web.other.svc.cluster.local')
  })

  it('tries a name with enough dots as is first', () => {
    expect(searchCandidates('web.default.svc.cluster.local', POD_SEARCH, 4)[0]).toBe(
      'web.default.svc.cluster.local',
    )
    expect(searchCandidates('web.default', ['cluster.local'], 1)).toEqual([
      'web.default',
      'web.default.cluster.local',
    ])
  })

  it('never expands an absolute name', () => {
    expect(searchCandidates('Web.default.svc.cluster.local.', POD_SEARCH, 5)).toEqual([
      'web.default.svc.cluster.local',
    ])
  })
})

describe('isDashedIpLabel', () => {
  it('recognises the names CoreDNS gives pods without a hostname', async () => {
    const { isDashedIpLabel } = await import('../../../src/discovery/dns-name.js')
    for (const label of ['10-0-0-7', '--1', '2001-db8--1', 'fd00-0-0-0-0-0-0-7'])
      expect(isDashedIpLabel(label)).toBe(true)
    for (const label of ['web-0', 'db-1-2', 'cafe', 'web']) expect(isDashedIpLabel(label)).toBe(false)
  })
})
