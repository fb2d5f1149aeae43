// Runs the PostgreSQL primary/replica walk-through on this machine: the lab's DNS and a
// PostgreSQL primary + streaming standby (Debian's postgresql-15; as root they run as the
// `postgres` OS user), then the failover demo, printing each step. Exits 1 if a write reached a
// server in recovery or writes did not follow the new primary.
//   node --import ./scripts/ts-resolve.mjs examples/postgres-primary-replica/main.ts
// Like the demo, it re-runs itself in a private network namespace where the machine allows it,
// so 127.0.20.1:5432 cannot clash with a PostgreSQL already running on this machine.
import { startLab } from '../../lab/index.js'
import { startPostgresPair } from '../../lab/postgres.js'
import { runInPrivateNetwork } from '../../lab/private-network.js'
import { runFailoverDemo } from './failover-demo.js'

if (runInPrivateNetwork(new URL(import.meta.url).pathname)) {
  await using lab = await startLab()
  await using pair = await startPostgresPair()
  console.log(
    `PostgreSQL primary on ${pair.primary.host}:${pair.primary.port}, standby on ${pair.standby.host}:${pair.standby.port}`,
  )
  const report = await runFailoverDemo({ lab, pair, probeInterval: 250, log: (line) => console.log(line) })
  const misrouted = [...report.writesBefore, ...report.writesAfter].filter(
    (w) => !w.ok || w.server !== w.picked,
  ).length
  const ok = report.readOnlyRejections === 0 && misrouted === 0 && report.primaryAfter === pair.standby.host
  console.log(ok ? 'OK: writes followed the primary; none reached a server in recovery' : 'FAILED: see above')
  process.exitCode = ok ? 0 : 1
}
