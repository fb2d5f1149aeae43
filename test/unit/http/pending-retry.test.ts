import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { type Behaviour, ok, TestServer } from './test-servers.js'

const root = fileURLToPath(new URL('../../../', import.meta.url))
const servers: TestServer[] = []

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()))
})

/** A script awaiting one request, with nothing else to keep its process alive. */
const SCRIPT = `
import { createClient } from ${JSON.stringify(`${root}src/http/create-client.ts`)}
const [a, b, minTimeout] = process.argv.slice(1)
const client = createClient({
  origin: 'http://web.test:8080',
  addresses: [a, b],
  balancer: 'round-robin',
  retry: { minTimeout: Number(minTimeout), maxTimeout: 300, randomize: false, maxRetryAfter: 2_000 },
})
client.request('/x').then(async (res) => {
  console.log('answer: ' + (await res.body.text()))
  await client.close()
})
`

describe('a request waiting out its retry backoff', () => {
  it.each([
    ['a reset, then a 300 ms backoff', '300', ((req) => req.socket.destroy()) as Behaviour],
    [
      'a 503 with Retry-After: 1',
      '1',
      ((req, res) => {
        req.resume()
        res.writeHead(503, { 'retry-after': '1' }).end()
      }) as Behaviour,
    ],
  ])(
    'keeps the process alive until it is answered, after %s (a script does not exit silently mid-retry)',
    async (_what, minTimeout, fail) => {
      // The first request, wherever round-robin sends it, fails; the retry goes to the other pod.
      let failed = false
      const firstFails: Behaviour = (req, res, server) => {
        if (failed) return ok(req, res, server)
        failed = true
        fail(req, res, server)
      }
      const pods = [
        await new TestServer('web-0', '127.0.0.2', firstFails).listen(),
        await new TestServer('web-1', '127.0.0.3', firstFails).listen(),
      ]
      servers.push(...pods)
      const out = await new Promise<{ code: number | null; stdout: string }>((resolve, reject) => {
        const child = execFile(
          process.execPath,
          [
            '--import',
            './scripts/ts-resolve.mjs',
            '--input-type=module',
            '-e',
            SCRIPT,
            ...pods.map((p) => `${p.address}:${p.port}`),
            minTimeout,
          ],
          { cwd: root, timeout: 20_000 },
          (error, stdout) => {
            if (error && error.code === undefined) reject(error)
            else resolve({ code: child.exitCode, stdout })
          },
        )
      })
      expect(failed).toBe(true)
      expect(out.code).toBe(0)
      expect(out.stdout).toMatch(/^answer: web-[01]\n$/)
      expect(pods[0]!.count() + pods[1]!.count()).toBe(2)
    },
    // A child process that compiles TypeScript on start: seconds on a loaded machine (CI timed
    // out at vitest's 5 s default with the CPU shared), bounded by execFile's 20 s above.
    25_000,
  )
})
