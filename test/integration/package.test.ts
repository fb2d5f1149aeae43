import { execFile, execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { posix } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

// What a user installs: the exports map, both builds and the bin. `npm test` builds dist/ first.
const manifest = JSON.parse(readFileSync('package.json', 'utf8'))
const run = promisify(execFile)

describe('the published package', () => {
  it('has every file its exports map and bin name', () => {
    const targets = [
      ...['.', './pg', './ioredis', './grpc', './testing'].flatMap((entry) => [
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

  it('never imports the optional peer @opentelemetry/api from the root entry (metrics read the global registration)', () => {
    const files = readdirSync('dist', { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js'))
    expect(files.length).toBeGreaterThan(10)
    const importing = files.filter((f) =>
      /require\(["']@opentelemetry|from ["']@opentelemetry/.test(readFileSync(`dist/${f}`, 'utf8')),
    )
    expect(importing).toEqual([])
  })

  it('serves the test seams from headless-lb/testing, and not from the root entry', async () => {
    const script = `
      const cjs = require('headless-lb/testing'), root = require('headless-lb')
      import('headless-lb/testing').then((esm) => {
        console.log(JSON.stringify([Object.keys(esm).sort(), Object.keys(cjs).sort().join() === Object.keys(esm).sort().join(),
          ['DISCOVERY_OPTION_KEYS', 'pickDiscoveryOptions', 'validateDiscoveryOptions', 'DISCOVERY_DEFAULTS'].filter((n) => n in root)]))
      })`
    const { stdout } = await run(process.execPath, ['-e', script])
    expect(JSON.parse(stdout)).toEqual([
      [
        'DISCOVERY_DEFAULTS',
        'DISCOVERY_OPTION_KEYS',
        'parseResolvConf',
        'pickDiscoveryOptions',
        'validateDiscoveryOptions',
      ],
      true,
      [],
    ])
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

  it('never loads pg, ioredis or @grpc/grpc-js from the root entry (they are optional peer dependencies)', async () => {
    // Module hooks see every resolution, of require() and of import alike.
    const script = `
      const { registerHooks } = require('node:module')
      const loaded = []
      registerHooks({ resolve(specifier, context, next) {
        if (/^(pg|ioredis|pg-.*|@grpc[/].*)$/.test(specifier)) loaded.push(specifier)
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

describe('the packed tarball', () => {
  it('ships the sources every source map and declaration map names', async () => {
    const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      maxBuffer: 32 * 1024 * 1024,
    })
    const packed = new Set((JSON.parse(stdout)[0].files as Array<{ path: string }>).map((f) => f.path))
    const maps = [...packed].filter((path) => path.endsWith('.map'))
    expect(maps.length).toBeGreaterThan(0)
    const dangling: string[] = []
    for (const map of maps) {
      const { sources } = JSON.parse(readFileSync(map, 'utf8')) as { sources: string[] }
      for (const source of sources) {
        const target = posix.normalize(posix.join(posix.dirname(map), source))
        if (!packed.has(target)) dangling.push(`${map} -> ${target}`)
      }
    }
    expect(dangling).toEqual([])
    for (const file of ['LICENSE', 'README.md', 'CHANGELOG.md']) expect(packed.has(file), file).toBe(true)
  })
})

describe('on a Node.js older than the engines floor', () => {
  // The machine's own Node (CI's is 20) when it is older than the floor; the tests run on Node 24.
  const oldNode = ['/usr/bin/node', '/usr/local/bin/node'].find((path) => {
    if (!existsSync(path)) return false
    const [major = 0, minor = 0] = execFileSync(path, ['-p', 'process.versions.node'], { encoding: 'utf8' })
      .trim()
      .split('.')
      .map(Number)
    return major < 22 || (major === 22 && minor < 19)
  })

  it.skipIf(oldNode === undefined)(
    'import, require and the command each say which Node is needed',
    async () => {
      const node = oldNode as string
      const message =
        /headless-lb needs Node\.js >= 22\.19\.0 \(its "engines" field\), but this is Node\.js \d+\./
      const esm = await run(node, [
        '-e',
        "import('./dist/esm/index.js').catch((e) => console.log(e.code, e.message))",
      ])
      expect(esm.stdout).toMatch(/^HLB_ERR_UNSUPPORTED_NODE /)
      expect(esm.stdout).toMatch(message)
      const cjs = await run(node, [
        '-e',
        "try { require('./dist/cjs/index.js') } catch (e) { console.log(e.code, e.message) }",
      ])
      expect(cjs.stdout).toMatch(message)
      const cli = await run(node, [manifest.bin['headless-lb'], '--help']).catch(
        (error: { code: number; stderr: string }) => error,
      )
      expect((cli as { code: number }).code).toBe(1)
      expect((cli as { stderr: string }).stderr).toMatch(new RegExp(`^headless-lb: ${message.source}`))
    },
  )
})

describe('errors across the ESM and CommonJS copies', () => {
  it('an error thrown by the CommonJS copy is instanceof the ESM classes, by its code', async () => {
    const cjs = createRequire(import.meta.url)('../../dist/cjs/index.js') as Record<
      string,
      new (
        ...args: never[]
      ) => Error
    >
    const esmEntry = '../../dist/esm/index.js'
    const esm = (await import(esmEntry)) as Record<string, new (...args: never[]) => Error>
    const NoEndpoints = cjs.NoEndpointsError as unknown as new (service: string, reason: string) => Error
    const fromCjs = new NoEndpoints('web', 'none ready')
    expect(fromCjs instanceof (esm.NoEndpointsError as never)).toBe(true)
    expect(fromCjs instanceof (esm.HeadlessLbError as never)).toBe(true)
    expect(fromCjs instanceof (esm.NoPrimaryError as never)).toBe(false)
    expect(fromCjs instanceof Error).toBe(true)
    expect(new Error('plain') instanceof (esm.HeadlessLbError as never)).toBe(false)
    expect({ code: 'HLB_ERR_NO_ENDPOINTS' } instanceof (esm.NoEndpointsError as never)).toBe(false)
  })

  it('an option error thrown by the CommonJS copy is instanceof the ESM option error classes', async () => {
    const cjs = createRequire(import.meta.url)('../../dist/cjs/index.js') as {
      createPool: (options: Record<string, unknown>) => unknown
    }
    const esmEntry = '../../dist/esm/index.js'
    const esm = (await import(esmEntry)) as Record<string, new (...args: never[]) => Error>
    const thrown = (options: Record<string, unknown>) => {
      try {
        cjs.createPool(options)
      } catch (error) {
        return error
      }
      throw new Error('createPool accepted invalid options')
    }
    const wrongKind = thrown({ service: 'web', port: 'http' })
    const outOfRange = thrown({ service: 'web', port: 70_000 })
    expect(wrongKind instanceof (esm.InvalidOptionError as never)).toBe(true)
    expect(wrongKind instanceof (esm.OptionRangeError as never)).toBe(false)
    expect(outOfRange instanceof (esm.OptionRangeError as never)).toBe(true)
    expect(outOfRange instanceof RangeError).toBe(true)
    expect(wrongKind).toMatchObject({ code: 'HLB_ERR_INVALID_OPTION', path: 'port', value: 'http' })
  })
})
