/**
 * Errors for invalid options, thrown at construction by every factory (`createPool`,
 * `createClient`, `HeadlessAgent`, the routers...). They stay a `TypeError` (a value of the wrong
 * kind, an unknown option) and a `RangeError` (a value of the right kind out of its range: port
 * 70000, a negative duration), as Node's own ERR_INVALID_ARG_TYPE and ERR_OUT_OF_RANGE are, and
 * both carry `code: 'HLB_ERR_INVALID_OPTION'`, the option's `path` and the `value` given. The
 * message has one shape: `<path> must be <expectation>, got <value>. <how to fix>`.
 *
 * Like the runtime errors (errors.ts), each is branded with `Symbol.for`, so `instanceof` works
 * across the package's ESM and CommonJS copies; the brand keys are part of the contract.
 */
const INVALID_OPTION_CODE = 'HLB_ERR_INVALID_OPTION'

const kTypeBrand = Symbol.for('headless-lb.error.HLB_ERR_INVALID_OPTION.type')
const kRangeBrand = Symbol.for('headless-lb.error.HLB_ERR_INVALID_OPTION.range')

function branded(instance: unknown, brand: symbol): boolean {
  return (
    typeof instance === 'object' && instance !== null && (instance as Record<symbol, unknown>)[brand] === true
  )
}

/** An option of the wrong kind, an unknown option, or a missing one. */
export class InvalidOptionError extends TypeError {
  readonly code: 'HLB_ERR_INVALID_OPTION' = INVALID_OPTION_CODE
  /**
   * The option's path from the factory's options argument, as the message names it:
   * `retry.retries`, `services["web"].retry.retries`, `dns.servers[0]`; `options` for the
   * argument itself.
   */
  readonly path: string
  /** The value given. */
  readonly value: unknown

  constructor(path: string, message: string, value: unknown, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause })
    this.name = 'InvalidOptionError'
    this.path = path
    this.value = value
    Object.defineProperty(this, kTypeBrand, { value: true })
  }

  static override [Symbol.hasInstance](instance: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class right of `instanceof` (a subclass too).
    return this === InvalidOptionError
      ? branded(instance, kTypeBrand)
      : Function.prototype[Symbol.hasInstance].call(this, instance)
  }
}

/** An option of the right kind outside its range. */
export class OptionRangeError extends RangeError {
  readonly code: 'HLB_ERR_INVALID_OPTION' = INVALID_OPTION_CODE
  /**
   * The option's path from the factory's options argument, as the message names it:
   * `retry.retries`, `services["web"].retry.retries`, `dns.servers[0]`; `options` for the
   * argument itself.
   */
  readonly path: string
  /** The value given. */
  readonly value: unknown

  constructor(path: string, message: string, value: unknown) {
    super(message)
    this.name = 'OptionRangeError'
    this.path = path
    this.value = value
    Object.defineProperty(this, kRangeBrand, { value: true })
  }

  static override [Symbol.hasInstance](instance: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class right of `instanceof` (a subclass too).
    return this === OptionRangeError
      ? branded(instance, kRangeBrand)
      : Function.prototype[Symbol.hasInstance].call(this, instance)
  }
}
