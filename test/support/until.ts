/**
 * Waits for state that has no event of its own, polling `condition` every `every` ms; rejects
 * naming `what` after `ms`. Tests wait for a condition with a deadline, never a fixed time.
 */
export async function until(what: string, condition: () => boolean, ms = 10_000, every = 20): Promise<void> {
  const deadline = Date.now() + ms
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, every))
  }
}
