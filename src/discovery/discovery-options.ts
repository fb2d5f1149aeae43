/**
 * Options that say how to find the service's endpoints. `createPool` takes these together with
 * the balancing options; the HTTP client takes both plus its own.
 * (Stub from the skeleton commit: the discovery work fills in validation and defaults.)
 */
export interface DiscoveryOptions {
  /** FQDN (`web.default.svc.cluster.local`) or a short name (`web`, `web.default`) expanded with resolv.conf `search`/`ndots`. */
  service: string
  /** The endpoints' port. Exactly one of `port` and `portName` (SRV) unless `addresses` carry ports. */
  port?: number
  /** Named port: resolves SRV `_<portName>._tcp.<service>` for ports, priorities, weights and pod names. */
  portName?: string
  /** Address families to resolve. Default 4. */
  family?: 4 | 6 | 'dual'
  /** Known pod names (`['db-0', 'db-1']` -> `db-0.<service>`), resolved one by one. */
  pods?: ReadonlyArray<string>
  /** A static list of `address` or `address:port` (`[v6]:port`): no DNS at all. For local development and tests. */
  addresses?: ReadonlyArray<string>
  dns?: {
    /** `host` or `host:port` of DNS servers. Default: the system's (resolv.conf). */
    servers?: ReadonlyArray<string>
    /** Per-query timeout in ms. */
    timeout?: number
    /** Tries per server. */
    tries?: number
    /** Search list and ndots used to expand short names. Default: from /etc/resolv.conf. */
    search?: ReadonlyArray<string>
    ndots?: number
  }
  /** Lower clamp of the TTL-driven refresh interval, ms. */
  minRefresh?: number
  /** Upper clamp of the refresh interval, and of the error backoff, ms. */
  maxRefresh?: number
}
