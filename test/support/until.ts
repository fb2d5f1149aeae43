// Waiting for state that has no event of its own: poll it with a deadline, never a fixed sleep.

/**
 * Polls `condition` (sync or async) every `every` ms until it holds; rejects naming `what` after
 * `ms`.
 */
export async function until(
  what: string,
  condition: () => boolean | Promise<boolean>,
  ms = 10_000,
  every = 20,
): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, every))
  }
}

/**
 * Retries `check` (an assertion, sync or async) every `every` ms until it passes; after `ms`,
 * rethrows its last failure, so the test reports what was expected and what was seen.
 */
export async function untilPasses(check: () => void | Promise<void>, ms = 2_000, every = 20): Promise<void> {
  const deadline = Date.now() + ms
  for (;;) {
    try {
      await check()
      return
    } catch (error) {
      if (Date.now() > deadline) throw error
    }
    await new Promise((resolve) => setTimeout(resolve, every))
  }
}
