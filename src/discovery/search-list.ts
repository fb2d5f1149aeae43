/**
 * The names a stub resolver tries for `name`, in order, as glibc and musl do inside a pod:
 * an absolute name (trailing dot) is tried alone; a name with at least `ndots` dots is tried
 * as is first, then with each search domain; a shorter name is tried with each search domain
 * first, then as is. (resolv.conf(5), "ndots".)
 */
export function searchCandidates(name: string, search: ReadonlyArray<string>, ndots: number): string[] {
  if (name.endsWith('.')) return [name.slice(0, -1).toLowerCase()]
  const lower = name.toLowerCase()
  const dots = lower.split('.').length - 1
  const expanded = search.map((domain) => `${lower}.${domain}`)
  return dots >= ndots ? [lower, ...expanded] : [...expanded, lower]
}
