/** A lab feature this machine cannot provide (e.g. blackhole outside a private network namespace). Tests skip with `message`. */
export class LabUnsupportedError extends Error {
  readonly code = 'HLB_LAB_UNSUPPORTED'
  constructor(message: string) {
    super(message)
    this.name = 'LabUnsupportedError'
  }
}
