// Why round-robin pick is ~3x the floor and not 2x: idealised rotations measured the way
// bench/pick.ts measures the floor and the balancers (same loop, best of 10 batches, one process
// per shape), each adding one thing a real pool needs. Not a test of the library: a record of the
// measurements behind docs/balancing.md's "Pick cost" section.
//
//   npx node bench/rotation-shapes.ts [endpoints]
interface Endpoint {
  readonly id: string
  readonly port: number
}
interface State {
  readonly endpoint: Endpoint
  ramping: number
}
interface Picker {
  pick(): Endpoint
}

/** bench/pick.ts's floor: cannot fail, reads undefined on an empty list. */
class Floor implements Picker {
  private readonly list: Endpoint[]
  private i = 0
  constructor(list: Endpoint[]) {
    this.list = list
  }
  pick(): Endpoint {
    const list = this.list
    const e = list[this.i]!
    this.i = this.i + 1 === list.length ? 0 : this.i + 1
    return e
  }
}

/** The floor plus what any pick API must do with an empty list: throw. */
class ThrowsWhenEmpty implements Picker {
  private readonly list: Endpoint[]
  private i = 0
  constructor(list: Endpoint[]) {
    this.list = list
  }
  pick(): Endpoint {
    const list = this.list
    const i = this.i
    const e = list[i]
    if (e !== undefined) {
      this.i = i + 1 === list.length ? 0 : i + 1
      return e
    }
    throw new Error('no endpoints')
  }
}

/** The same rotation returning undefined when empty (the caller's `.port` then fails). */
class UndefinedWhenEmpty implements Picker {
  private readonly list: Endpoint[]
  private i = 0
  constructor(list: Endpoint[]) {
    this.list = list
  }
  pick(): Endpoint {
    const list = this.list
    const i = this.i
    const e = list[i]
    if (e !== undefined) this.i = i + 1 === list.length ? 0 : i + 1
    return e!
  }
}

/** A balancer behind a pool, in the shapes the pool could take. */
class Rotation {
  readonly schedule: State[]
  readonly endpoints: Endpoint[]
  readonly indexes: Int32Array
  cursor = 0
  constructor(states: State[]) {
    this.schedule = states
    this.endpoints = states.map((s) => s.endpoint)
    this.indexes = Int32Array.from(states, (_, i) => i)
  }
  /** As RoundRobinBalancer.pick: a state, after checking emptiness and ramping. */
  pickState(): State | undefined {
    const schedule = this.schedule
    const n = schedule.length
    if (n !== 0) {
      const i = this.cursor
      const state = schedule[i]!
      if (state.ramping === 0) {
        this.cursor = i + 1 === n ? 0 : i + 1
        return state
      }
    }
    return this.slowly()
  }
  /** Same, with modulo instead of compare-and-reset. */
  pickModulo(): State | undefined {
    const schedule = this.schedule
    const n = schedule.length
    if (n !== 0) {
      const i = this.cursor
      const state = schedule[i]!
      if (state.ramping === 0) {
        this.cursor = (i + 1) % n
        return state
      }
    }
    return this.slowly()
  }
  /** Same, rotating over a typed array of indexes into the eligible states. */
  pickIndexed(): State | undefined {
    const indexes = this.indexes
    const n = indexes.length
    if (n !== 0) {
      const i = this.cursor
      const state = this.schedule[indexes[i]!]!
      if (state.ramping === 0) {
        this.cursor = i + 1 === n ? 0 : i + 1
        return state
      }
    }
    return this.slowly()
  }
  /** No ramping check (the caller promises nothing ramps): a state. */
  pickStateUnchecked(): State | undefined {
    const list = this.schedule
    const i = this.cursor
    const s = list[i]
    if (s !== undefined) this.cursor = i + 1 === list.length ? 0 : i + 1
    return s
  }
  /** No ramping check, and the endpoints kept in their own array: no state to go through. */
  pickEndpoint(): Endpoint | undefined {
    const list = this.endpoints
    const i = this.cursor
    const e = list[i]
    if (e !== undefined) this.cursor = i + 1 === list.length ? 0 : i + 1
    return e
  }
  private slowly(): State | undefined {
    throw new Error('not measured')
  }
}

/**
 * Pool.pick's shape: a `plain` flag, a call into the balancer, an out-of-line full selection.
 * One subclass per balancer method, so that each process sees one monomorphic call site.
 */
abstract class PoolShaped implements Picker {
  protected readonly plain = true
  protected readonly balancer: Rotation
  constructor(balancer: Rotation) {
    this.balancer = balancer
  }
  abstract pick(): Endpoint
  protected select(): Endpoint {
    throw new Error('not measured')
  }
}
class PoolOfStates extends PoolShaped {
  pick(): Endpoint {
    if (this.plain === true) {
      const s = this.balancer.pickState()
      if (s !== undefined) return s.endpoint
    }
    return this.select()
  }
}
class PoolModulo extends PoolShaped {
  pick(): Endpoint {
    if (this.plain === true) {
      const s = this.balancer.pickModulo()
      if (s !== undefined) return s.endpoint
    }
    return this.select()
  }
}
class PoolIndexed extends PoolShaped {
  pick(): Endpoint {
    if (this.plain === true) {
      const s = this.balancer.pickIndexed()
      if (s !== undefined) return s.endpoint
    }
    return this.select()
  }
}
class PoolUnchecked extends PoolShaped {
  pick(): Endpoint {
    if (this.plain === true) {
      const s = this.balancer.pickStateUnchecked()
      if (s !== undefined) return s.endpoint
    }
    return this.select()
  }
}
class PoolOfEndpoints extends PoolShaped {
  pick(): Endpoint {
    if (this.plain === true) {
      const e = this.balancer.pickEndpoint()
      if (e !== undefined) return e
    }
    return this.select()
  }
}
const POOLS = {
  state: PoolOfStates,
  modulo: PoolModulo,
  indexed: PoolIndexed,
  unchecked: PoolUnchecked,
  endpoint: PoolOfEndpoints,
}

const SHAPES: Record<string, string> = {
  floor: 'floor: array rotation (as bench/pick.ts)',
  undefinedWhenEmpty: 'rotation, undefined when empty',
  throwsWhenEmpty: 'rotation, throws when empty',
  endpoint: 'pool -> rotation of endpoints, no ramp check',
  unchecked: 'pool -> rotation of states, no ramp check',
  state: 'pool -> rotation of states (as shipped)',
  modulo: 'same, modulo instead of compare-and-reset',
  indexed: 'same, over an Int32Array of indexes',
}

function build(name: string, n: number): Picker {
  const list: Endpoint[] = Array.from({ length: n }, (_, i) => ({ id: `web-${i}`, port: 8080 }))
  const states: State[] = list.map((endpoint) => ({ endpoint, ramping: 0 }))
  if (name === 'floor') return new Floor(list)
  if (name === 'throwsWhenEmpty') return new ThrowsWhenEmpty(list)
  if (name === 'undefinedWhenEmpty') return new UndefinedWhenEmpty(list)
  return new POOLS[name as keyof typeof POOLS](new Rotation(states))
}

/** bench/pick.ts's loop and timing. */
function runPicks(target: Picker, iterations: number): number {
  let sink = 0
  for (let i = 0; i < iterations; i++) sink ^= target.pick().port
  return sink
}

function nsPer(target: Picker, batch: number): number {
  runPicks(target, batch)
  let best = Number.POSITIVE_INFINITY
  for (let b = 0; b < 10; b++) {
    const start = process.hrtime.bigint()
    runPicks(target, batch)
    best = Math.min(best, Number(process.hrtime.bigint() - start) / batch)
  }
  return best
}

const only = process.argv.indexOf('--only')
const n = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 64)
if (only > 0) {
  console.log(nsPer(build(process.argv[only + 1]!, n), 1_000_000).toFixed(2))
} else {
  const { execFileSync } = await import('node:child_process')
  const { fileURLToPath } = await import('node:url')
  console.log(
    `Node ${process.version}, ${n} endpoints, best of 10 batches of 10^6 picks, one process per shape`,
  )
  let floor = 0
  for (const [name, label] of Object.entries(SHAPES)) {
    const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--only', name, String(n)], {
      encoding: 'utf8',
    })
    const ns = Number(out)
    if (name === 'floor') floor = ns
    console.log(`${label.padEnd(46)} ${ns.toFixed(2).padStart(6)} ns  ${(ns / floor).toFixed(2)}x`)
  }
}
