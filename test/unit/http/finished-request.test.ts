import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import type { Dispatcher } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import { createClient } from '../../../src/http/create-client.js'
import { endpoint, FakePool } from './fake-pool.js'
import { TestServer } from './test-servers.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const closers: Array<{ close(): Promise<void> }> = []
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c.close()))
})

describe('a finished request', () => {
  // A request object outlives its response wherever the caller keeps the controller (undici's
  // body stream does, as its controller): holding the caller's handler from it kept every
  // response's stream reachable, which made V8 allocate undici's body streams in the old
  // generation in about one process in three (docs/performance.md, "pretenuring").
  it.each(['an answer', 'an error'])("does not keep the caller's handler alive after %s", async (outcome) => {
    const server = await new TestServer('web-0', '127.0.0.2').listen()
    closers.push(server)
    const pool = new FakePool('web.test', [
      endpoint('web-0', '127.0.0.2', outcome === 'an answer' ? server.port : 1),
    ])
    const client = createClient({ origin: 'http://web.test:8080', pool, retry: { retries: 0 } })
    closers.push(client)
    let controller: Dispatcher.DispatchController | undefined
    let settled!: () => void
    const done = new Promise<void>((resolve) => {
      settled = resolve
    })
    let handlerRef!: WeakRef<object>
    ;(() => {
      const handler: Dispatcher.DispatchHandler = {
        onRequestStart(c) {
          controller = c
        },
        onResponseEnd() {
          settled()
        },
        onResponseError() {
          settled()
        },
      }
      handlerRef = new WeakRef(handler)
      client.dispatcher.dispatch({ origin: 'http://web.test:8080', path: '/', method: 'GET' }, handler)
    })()
    await done
    await new Promise((resolve) => setImmediate(resolve))
    gc()
    expect(controller).toBeDefined()
    expect(handlerRef.deref()).toBeUndefined()
    // Nor the response's headers: they were the caller's to read until its last callback.
    expect(controller!.rawHeaders).toBeNull()
    expect(controller!.rawTrailers).toBeNull()
  })
})
