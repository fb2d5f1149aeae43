// The fake endpoint's answer and controller shared by the benchmarks that measure the client's
// own layer without sockets (bench/http-overhead.ts, bench/http-layer.ts).
import type { Dispatcher } from 'undici'

/** The fake's response: 200, two headers, body "ok". */
export const HEADERS = { 'content-type': 'text/plain', 'content-length': '2' }
export const RAW_HEADERS = [Buffer.from('content-type'), Buffer.from('text/plain')]
export const BODY = Buffer.from('ok')

/** A controller as undici's per-request one: state only. */
export class FakeController implements Dispatcher.DispatchController {
  aborted = false
  paused = false
  reason: Error | null = null
  rawHeaders: Buffer[] | null = RAW_HEADERS
  rawTrailers: Buffer[] | null = null
  abort(reason: Error): void {
    this.aborted = true
    this.reason = reason
  }
  pause(): void {
    this.paused = true
  }
  resume(): void {
    this.paused = false
  }
}
