/**
 * Runs the PostgreSQL primary/replica walk-through on this machine: starts the lab's DNS and a
 * PostgreSQL primary + standby (Debian's postgresql-15; as root it runs them as the `postgres`
 * user), then the failover demo, and prints each step. Exits 1 if a write reached a server in
 * recovery or writes did not follow the new primary. See README.md for the command.
 */
import { startLab } from '../../test/lab/index.js'
import { startPostgresPair } from '../../test/lab/postgres.js'
import { runFailoverDemo } from './failover-demo.js'

const lab = await startLab()
try {
  await using pair = await startPostgresPair()
  console.log(
    `PostgreSQL primary on ${pair.primary.host}:${pair.primary.port}, standby on ${pair.standby.host}:${pair.standby.port}`,
  )
  const report = await runFailoverDemo({ lab, pair, probeInterval: 250, log: (line) => console.log(line) })
  const wrongWrites = [...report.writesBefore, ...report.writesAfter].filter(
    (w) => !w.ok || w.server !== w.picked,
  ).length
  const ok = report.readOnlyRejections === 0 && wrongWrites === 0 && report.primaryAfter === pair.standby.host
  console.log(ok ? 'OK: writes followed the primary; none reached a server in recovery' : 'FAILED: see above')
  process.exitCode = ok ? 0 : 1
} finally {
  await lab.close()
}
