/**
 * Why an address from an A/AAAA answer cannot be an endpoint, or undefined when it can. DNS can
 * hand out anything: a misconfigured record, a wildcard pointing at 0.0.0.0 (a common "blocked"
 * answer), a multicast group. Connecting to 0.0.0.0 or :: reaches this very host on Linux, and
 * broadcast or multicast addresses are not one server: none of them is a pod (RFC 6890's special
 * purpose registries).
 */
export function unusableAddress(address: string, family: 4 | 6): string | undefined {
  if (family === 4) {
    const first = Number(address.slice(0, address.indexOf('.')))
    if (first === 0) return 'an unspecified ("this network", 0.0.0.0/8) address'
    if (address === '255.255.255.255') return 'the limited broadcast address'
    if (first >= 224 && first <= 239) return 'a multicast (224.0.0.0/4) address'
    return undefined
  }
  if (address === '::' || /^(0{0,4}:){7}0{0,4}$/.test(address)) return 'the unspecified address (::)'
  // ff00::/8: the first 16-bit group is ffXX, written with all four digits.
  const group = address.slice(0, address.indexOf(':'))
  if (group.length === 4 && group.slice(0, 2).toLowerCase() === 'ff') return 'a multicast (ff00::/8) address'
  return undefined
}
