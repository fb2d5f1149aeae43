import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { runCli, USAGE } from '../../../src/cli/run-cli.js'

function io() {
  const out = { stdout: '', stderr: '' }
  return {
    out,
    io: {
      stdout: { write: (t: string) => (out.stdout += t) },
      stderr: { write: (t: string) => (out.stderr += t) },
    },
  }
}

describe('headless-lb --version and --help', () => {
  it('--version prints the package version', async () => {
    const t = io()
    expect(await runCli(['--version'], t.io)).toBe(0)
    expect(t.out.stdout).toBe(`${JSON.parse(readFileSync('package.json', 'utf8')).version}\n`)
  })

  it('<command> --help prints that command’s own help, with its options and exit codes', async () => {
    for (const command of ['doctor', 'resolve', 'check']) {
      const t = io()
      expect(await runCli([command, '--help'], t.io)).toBe(0)
      expect(t.out.stdout).toMatch(new RegExp(`^Usage: headless-lb ${command} <service>`))
      expect(t.out.stdout).toContain('Exit codes')
      expect(t.out.stdout).not.toBe(USAGE)
    }
    const check = io()
    await runCli(['check', 'web', '-h'], check.io)
    expect(check.out.stdout).toContain('--path <path>')
    const general = io()
    expect(await runCli(['--help'], general.io)).toBe(0)
    expect(general.out.stdout).toBe(USAGE)
    expect(general.out.stdout).toContain('headless-lb check <service>')
  })

  it('check rejects options of other commands and bad values as usage errors (exit 2)', async () => {
    for (const argv of [
      ['check', 'web', '--path', 'healthz'],
      ['check', 'web', '--tcp', '--path', '/x'],
      ['check', 'web', '--requests', '0'],
      ['resolve', 'web', '--port', '80', '--path', '/x'],
      ['doctor', 'web', '--watch'],
    ]) {
      const t = io()
      expect(await runCli(argv, t.io), argv.join(' ')).toBe(2)
      expect(t.out.stderr).toMatch(/^headless-lb: /)
    }
  })
})
