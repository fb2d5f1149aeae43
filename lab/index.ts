/**
 * The lab: a small, real imitation of a cluster's DNS and pods on one machine (see api.ts for
 * the contract and docs/lab.md for how it works).
 */
import type { Lab, LabOptions } from './api.js'
import { LabImpl } from './lab.js'

export type * from './api.js'
export { LabUnsupportedError } from './lab-unsupported-error.js'

/** Starts a lab: a BIND 9 server for the zone (no services yet). Close it with `close()` or `await using`. */
export function startLab(options?: LabOptions): Promise<Lab> {
  return LabImpl.start(options)
}
