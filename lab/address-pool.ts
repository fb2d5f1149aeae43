/**
 * Hands out loopback addresses in one /24 (pods: 127.0.10.x, VIPs: 127.0.11.x). Addresses are
 * handed out in increasing order and reused only after wrapping around, so a pod restarted
 * with a new IP never gets an address a client may still hold from an earlier pod.
 */
export class AddressPool {
  readonly #prefix: string
  readonly #inUse = new Set<string>()
  #next = 1

  /** `prefix` like `127.0.10.` */
  constructor(prefix: string) {
    this.#prefix = prefix
  }

  take(): string {
    for (let i = 0; i < 254; i++) {
      const host = this.#next
      this.#next = (this.#next % 254) + 1
      const ip = `${this.#prefix}${host}`
      if (!this.#inUse.has(ip)) {
        this.#inUse.add(ip)
        return ip
      }
    }
    throw new RangeError(`no free address left in ${this.#prefix}0/24 (254 in use)`)
  }

  release(ip: string): void {
    this.#inUse.delete(ip)
  }
}
