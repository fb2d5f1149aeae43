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
      ...['.', './pg', './ioredis'].flatMap((entry) => [
        ...Object.values(manifest.exports[entry].import),
        ...Object.values(manifest.exports[entry].require),
      ]),
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

  it('serves headless-lb/pg and headless-lb/ioredis to require() and import, by package name', async () => {
    // Resolved through the exports map, as a user's `import 'headless-lb/pg'` is.
    const script = `
      const { createRequire } = require('node:module')
      const cjsPg = require('headless-lb/pg'), cjsRedis = require('headless-lb/ioredis')
      Promise.all([import('headless-lb/pg'), import('headless-lb/ioredis')]).then(([esmPg, esmRedis]) => {
        console.log(JSON.stringify([typeof cjsPg.createPgRouter, typeof cjsRedis.createRedisRouter,
          typeof esmPg.createPgRouter, typeof esmRedis.createRedisRouter,
          Object.keys(cjsPg).sort().join() === Object.keys(esmPg).sort().join(),
          Object.keys(cjsRedis).sort().join() === Object.keys(esmRedis).sort().join()]))
      })`
    const { stdout } = await run(process.execPath, ['-e', script])
    expect(JSON.parse(stdout)).toEqual(['function', 'function', 'function', 'function', true, true])
  })

  it('never loads pg or ioredis from the root entry (they are optional peer dependencies)', async () => {
    // Module hooks see every resolution, of require() and of import alike.
    const script = `
      const { registerHooks } = require('node:module')
      const loaded = []
      registerHooks({ resolve(specifier, context, next) {
        if (/^(pg|ioredis|pg-.*)$/.test(specifier)) loaded.push(specifier)
        return next(specifier, context)
      } })
      require('headless-lb')
      import('headless-lb').then(() => import('headless-lb/package.json', { with: { type: 'json' } }))
        .then(() => console.log(JSON.stringify(loaded)))`
    const { stdout } = await run(process.execPath, ['-e', script])
    expect(JSON.parse(stdout)).toEqual([])
  })

  it('installs a headless-lb command that answers --help', async () => {
    const { stdout } = await run(process.execPath, [manifest.bin['headless-lb'], '--help'])
    expect(stdout).toMatch(/^Usage:\n {2}headless-lb doctor <service>/)
  })
})
