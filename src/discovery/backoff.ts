// Backoff moved to src/internal/backoff.ts. Delete this re-export once nothing imports it.
export { Backoff } from '../internal/backoff.js'
