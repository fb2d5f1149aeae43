/**
 * The last resort: clean-ups that must run even when a test never reaches `lab.close()` (a
 * failed `beforeAll`, an uncaught error, `process.exit()`). Handlers run synchronously on the
 * process's 'exit' event, so they may only do synchronous work (kill a pid, rmSync, spawnSync).
 * This is the lab's one piece of process-wide state, because 'exit' is process-wide.
 */
const handlers = new Set<() => void>()
let installed = false

function runAll(): void {
  for (const handler of [...handlers]) {
    try {
      handler()
    } catch {}
  }
  handlers.clear()
}

/** Registers `handler` for process exit; returns a function that unregisters it. */
export function registerExitCleanup(handler: () => void): () => void {
  if (!installed) {
    installed = true
    process.once('exit', runAll)
  }
  handlers.add(handler)
  return () => {
    handlers.delete(handler)
  }
}
