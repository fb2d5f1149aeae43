// The Clock moved to src/internal/clock.ts (every layer uses it, not only discovery). This
// re-export keeps src/pool.ts and the HTTP files being split in parallel compiling; delete it
// once nothing imports '../discovery/clock.js'.
export { type Clock, systemClock } from '../internal/clock.js'
