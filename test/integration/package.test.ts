import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
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
      ...Object.values(manifest.exports['./grpc'].import),
      ...Object.values(manifest.exports['./grpc'].require),
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

  it('serves headless-lb/grpc to require() and import, by its package name', async () => {
    // Self-reference: the package's own name resolves through its exports map, as for a user.
    const cjs = createRequire(import.meta.url)('headless-lb/grpc') as Record<string, unknown>
    const name = 'headless-lb/grpc'
    const esm = (await import(name)) as Record<string, unknown>
    expect(Object.keys(cjs).sort()).toEqual(Object.keys(esm).sort())
    expect(typeof esm.registerHeadlessResolver).toBe('function')
    expect(typeof cjs.registerHeadlessResolver).toBe('function')
  })

  it('registers on the grpc-js module it is given, from CommonJS as from ESM', async () => {
    const require = createRequire(import.meta.url)
    const grpc = require('@grpc/grpc-js')
    const { registerHeadlessResolver } = require('headless-lb/grpc')
    registerHeadlessResolver(grpc, { scheme: 'pkg-cjs' })
    // The scheme is known to that module: a bad target now fails in the resolver, not as unknown.
    expect(
      () => new grpc.Client('pkg-cjs:///web.default.svc.cluster.local', grpc.credentials.createInsecure()),
    ).toThrow(/names no port/)
  })

  it('keeps @grpc/grpc-js out of the root entry', () => {
    for (const file of ['dist/esm/index.js', 'dist/cjs/index.js']) {
      expect(readFileSync(file, 'utf8'), file).not.toMatch(/grpc/)
    }
  })

  it('installs a headless-lb command that answers --help', async () => {
    const { stdout } = await run(process.execPath, [manifest.bin['headless-lb'], '--help'])
    expect(stdout).toMatch(/^Usage:\n {2}headless-lb doctor <service>/)
  })
})
