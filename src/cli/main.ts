#!/usr/bin/env node
// The `headless-lb` command. Kept free of import.meta and top-level await so it compiles for
// the CommonJS build too. The command loads after the Node.js version check, so an old Node gets
// one line naming the version instead of undici's stack trace.
import { unsupportedNode } from '../node-version.js'

const problem = unsupportedNode(process.versions.node)
if (problem !== undefined) {
  process.stderr.write(`headless-lb: ${problem}\n`)
  process.exitCode = 1
} else {
  const controller = new AbortController()
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => controller.abort())
  // A reader that went away (`headless-lb resolve --watch | head -1`) ends the command as Ctrl-C
  // would, instead of an unhandled 'error' event and a stack trace at the next line written.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') process.stderr.write(`headless-lb: stdout: ${error.message}\n`)
    controller.abort()
  })

  import('./run-cli.js')
    .then(({ runCli }) =>
      runCli(process.argv.slice(2), {
        stdout: process.stdout,
        stderr: process.stderr,
        signal: controller.signal,
      }),
    )
    .then(
      (code) => {
        process.exitCode = code
      },
      (error: unknown) => {
        process.stderr.write(`headless-lb: ${(error as Error)?.stack ?? String(error)}\n`)
        process.exitCode = 70
      },
    )
}
