/**
 * The power-of-two-choices draw, shared by the P2C balancers and `nearest`: two distinct ranks in
 * [0, n) from one random number. `x` is `random() * n` and `first` its integer part (`x | 0`);
 * the fraction left over is still uniform and picks the second rank among the n - 1 others.
 *
 * Branch-free "skip first" (k += k >= first): the branch mispredicted half the time, ~5 ns a
 * pick. Small enough to inline into the pickers: no allocation, no closure.
 */
export function secondRank(x: number, first: number, n: number): number {
  const k = ((x - first) * (n - 1)) | 0
  return k + (((k - first) >>> 31) ^ 1)
}
