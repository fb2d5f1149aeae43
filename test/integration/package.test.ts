import { execFile } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

// What a user installs: the exports map, both builds and the bin. `npm test` builds dist/ first.
const manifest = JSON.parse(readFileSync('package.json', 'utf8'))
const run = promisify(execFile)

describe('the published package', () => {
  it('has every file its exports map and bin name', () => {
    const targets = [
      ...Object.values(manifest.exports['.'].import),
      ...Object.values(manifest.exports['.'].require),
      ...Object.values(manifest.bin),
    ] as string[]
    for (const target of targets) expect(existsSync(target), target).toBe(true)
  })

  it('serves the same API to require() and import', async () => {
    const cjs = createRequire(import.meta.url)('../../dist/cjs/index.js') as Record<string, unknown>
    // A path in a variable: type-checking runs before the build, when dist/ may not exist yet.
    const esmEntry = '../../dist/esm/index.js'
    const esm = (await import(esmEntry)) as Record<string, unknown>
    expect(Object.keys(cjs).sort()).toEqual(Object.keys(esm).sort())
    for (const name of ['createPool', 'createClient', 'HeadlessAgent', 'HeadlessLbError']) {
      expect(typeof esm[name], name).toBe('function')
    }
  })

  it('never imports the optional peer @opentelemetry/api from the root entry (metrics read the global registration)', () => {
    const files = readdirSync('dist', { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js'))
    expect(files.length).toBeGreaterThan(10)
    const importing = files.filter((f) =>
      /require\(["']@opentelemetry|from ["']@opentelemetry/.test(readFileSync(`dist/${f}`, 'utf8')),
    )
    expect(importing).toEqual([])
  })

  it('installs a headless-lb command that answers --help', async () => {
    const { stdout } = await run(process.execPath, [manifest.bin['headless-lb'], '--help'])
    expect(stdout).toMatch(/^Usage:\n {2}headless-lb doctor <service>/)
  })
})
