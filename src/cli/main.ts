#!/usr/bin/env node
// The `headless-lb` command. Kept free of import.meta and top-level await so it compiles for
// the CommonJS build too.
import { runCli } from './run-cli.js'

const controller = new AbortController()
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => controller.abort())
// A reader that went away (`headless-lb resolve --watch | head -1`) ends the command as Ctrl-C
// would, instead of an unhandled 'error' event and a stack trace at the next line written.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') process.stderr.write(`headless-lb: stdout: ${error.message}\n`)
  controller.abort()
})

runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  signal: controller.signal,
}).then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    process.stderr.write(`headless-lb: ${(error as Error)?.stack ?? String(error)}\n`)
    process.exitCode = 70
  },
)
