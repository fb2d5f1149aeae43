// Imported first by the root entry, so that it runs before undici loads (see node-version.ts).
import { unsupportedNode } from './node-version.js'

const problem = unsupportedNode(process.versions.node)
if (problem !== undefined) {
  throw Object.assign(new Error(problem), { code: 'HLB_ERR_UNSUPPORTED_NODE' })
}
