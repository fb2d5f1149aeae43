/** The `engines` floor: undici 8 needs it too (it loads zlib's zstd, new in Node 22.15/23.8). */
export const MINIMUM_NODE = '22.19.0'

/**
 * Why this Node.js cannot run headless-lb, or undefined when it can. On an older Node, undici 8
 * fails while loading with "Cannot read properties of undefined (reading 'bind')", which names
 * neither the package nor the version: the entry points check first and say both.
 */
export function unsupportedNode(version: string): string | undefined {
  const [major = 0, minor = 0] = version.replace(/^v/, '').split('.').map(Number)
  const [minMajor = 0, minMinor = 0] = MINIMUM_NODE.split('.').map(Number)
  if (major > minMajor || (major === minMajor && minor >= minMinor)) return undefined
  return `headless-lb needs Node.js >= ${MINIMUM_NODE} (its "engines" field), but this is Node.js ${version.replace(/^v/, '')}: upgrade Node.js`
}
