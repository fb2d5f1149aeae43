/**
 * DNS name rules for service and pod names. Kubernetes names are RFC 1123 labels (lowercase
 * alphanumerics and '-', 1-63 characters, not starting or ending with '-'); we accept upper
 * case too and lower-case it, since DNS is case-insensitive.
 */

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i

/** Why `name` is not a usable DNS name, or undefined when it is. A trailing dot (absolute name) is allowed. */
export function invalidServiceNameReason(name: string): string | undefined {
  const bare = name.endsWith('.') ? name.slice(0, -1) : name
  if (bare.length === 0) return 'The name is empty'
  if (bare.length > 253) return 'A DNS name has at most 253 characters'
  for (const label of bare.split('.')) {
    if (label.length === 0) return 'A label is empty (two dots in a row?)'
    if (label.length > 63) return `The label "${label.slice(0, 20)}..." is longer than 63 characters`
    if (!LABEL.test(label)) {
      return `The label "${label}" must be letters, digits and "-", not starting or ending with "-" (RFC 1123)`
    }
  }
  return undefined
}

/** Drops a trailing dot and lower-cases: the form names are compared in. */
export function canonicalName(name: string): string {
  return (name.endsWith('.') ? name.slice(0, -1) : name).toLowerCase()
}

/**
 * Pods without a stable hostname (a Deployment's) appear in SRV answers under their dashed IP
 * (`10-0-0-7.web.default.svc.cluster.local`, or `fd00--7` for IPv6), which is not a pod name.
 */
export function isDashedIpLabel(label: string): boolean {
  if (/^\d{1,3}-\d{1,3}-\d{1,3}-\d{1,3}$/.test(label)) return true
  // IPv6: compressed (`2001-db8--1`, `--1`) or all eight groups.
  return (
    (/^[0-9a-f-]+$/i.test(label) && label.includes('--')) || /^[0-9a-f]{1,4}(-[0-9a-f]{1,4}){7}$/i.test(label)
  )
}

/** The first label of a DNS name. */
export function firstLabel(name: string): string {
  const dot = name.indexOf('.')
  return dot === -1 ? name : name.slice(0, dot)
}
