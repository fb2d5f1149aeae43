/** The chaos suite's table: a header, then one row per phase as it ends. */
import type { ChaosReport, PhaseRow } from './chaos-suite.js'

const COLUMNS = [
  ['phase', 12],
  ['sent', 7],
  ['ok', 7],
  ['dup POST', 8],
  ['pending', 7],
  ['p50 ms', 7],
  ['p99 ms', 7],
  ['ok/s', 6],
  ['x healthy', 9],
] as const

export function tableHeader(): string {
  const cells = COLUMNS.map(([name, width], i) => (i === 0 ? name.padEnd(width) : name.padStart(width)))
  return `${cells.join('  ')}  failed (by code)`
}

export function tableRow(row: PhaseRow): string {
  const name = `${row.name}${row.gray ? '*' : ''}`.padEnd(COLUMNS[0][1])
  if (row.skipped !== undefined) return `${name}  skipped: ${row.skipped}`
  const failed = Object.entries(row.failed)
    .map(([code, n]) => `${code} ${n}`)
    .join(', ')
  const cells = [
    name,
    String(row.sent).padStart(7),
    String(row.ok).padStart(7),
    String(row.duplicatePosts).padStart(8),
    String(row.pendingAtEnd).padStart(7),
    row.p50.toFixed(1).padStart(7),
    row.p99.toFixed(1).padStart(7),
    String(Math.round(row.okPerSecond)).padStart(6),
    row.ratioToHealthy.toFixed(3).padStart(9),
  ]
  const notes = row.notes.length > 0 ? `  (${row.notes.join('; ')})` : ''
  return `${cells.join('  ')}  ${failed || '-'}${notes}`
}

export function tableFooter(report: ChaosReport): string {
  return [
    '* gray failure: the pod still takes connections (or its packets vanish); it must cost at most its share',
    `POSTs that reached a pod twice: ${report.duplicatePosts}; requests pending after close(): ${report.pendingAfterClose}; ` +
      `unhandled rejections: ${report.unhandledRejections.length}`,
  ].join('\n')
}
