// The public API as a checked artefact. API Extractor reads the emitted declarations of each
// entry point in package.json "exports" (dist/esm/**/index.d.ts) and writes one Markdown report
// per entry point: `.` -> etc/headless-lb.api.md, `./pg` -> etc/headless-lb-pg.api.md, ...
//
//   node scripts/api-report.mjs           writes etc/*.api.md (`npm run api:update` builds first)
//   node scripts/api-report.mjs --check   fails, printing the diff, when etc/ differs (`npm run build`)
//
// The check runs at the end of `npm run build`, so `npm test`, CI and every merge see a change of
// the public surface; the updated report is committed with the change that caused it.
//
// API Extractor analyses .d.ts files with the TypeScript it bundles, so it is independent of the
// compiler that emitted them (tsc 7 here): nothing under src/ is compiled by this script.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Extractor, ExtractorConfig, ExtractorLogLevel } from '@microsoft/api-extractor'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const check = process.argv.includes('--check')
const packageJson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const reportFolder = join(root, 'etc')
const generatedFolder = join(root, '.api-report-tmp')

/** One report per subpath of "exports" that has types; the root first (subpaths refer to its names). */
function entryPoints() {
  const entries = []
  for (const [subpath, target] of Object.entries(packageJson.exports)) {
    const types = target?.import?.types
    if (typeof types !== 'string') continue
    const suffix = subpath === '.' ? '' : `-${subpath.slice(2).replaceAll('/', '-')}`
    entries.push({
      subpath,
      importName: `${packageJson.name}${subpath.slice(1)}`,
      types: join(root, types),
      reportName: `${packageJson.name}${suffix}.api.md`,
    })
  }
  return entries
}

function configFor(entry) {
  return {
    projectFolder: root,
    mainEntryPointFilePath: entry.types,
    bundledPackages: [],
    newlineKind: 'lf',
    enumMemberOrder: 'preserve',
    compiler: {
      // Only the emitted declarations are analysed; the options mirror tsconfig.json's.
      overrideTsconfig: {
        compilerOptions: {
          target: 'es2023',
          lib: ['es2023', 'esnext.disposable'],
          module: 'nodenext',
          moduleResolution: 'nodenext',
          types: ['node'],
          strict: true,
          exactOptionalPropertyTypes: true,
          esModuleInterop: true,
          skipLibCheck: true,
        },
        files: [entry.types],
      },
    },
    apiReport: {
      enabled: true,
      reportFileName: entry.reportName,
      // Always written to a scratch folder; this script compares and copies (see below).
      reportFolder: generatedFolder,
      reportTempFolder: join(generatedFolder, 'temp'),
      includeForgottenExports: false,
    },
    docModel: { enabled: false },
    dtsRollup: { enabled: false },
    tsdocMetadata: { enabled: false },
    messages: {
      compilerMessageReporting: { default: { logLevel: 'error' } },
      extractorMessageReporting: {
        default: { logLevel: 'error', addToApiReportFile: false },
        'ae-forgotten-export': { logLevel: 'error', addToApiReportFile: false },
        // Everything exported is public unless marked @internal (and stripped); no @public tags.
        'ae-missing-release-tag': { logLevel: 'none' },
        'ae-internal-missing-underscore': { logLevel: 'none' },
        'ae-undocumented': { logLevel: 'none' },
        'ae-unresolved-link': { logLevel: 'none' },
      },
      // TSDoc syntax is not policed here: the comments are written for editors' hover text.
      tsdocMessageReporting: { default: { logLevel: 'none' } },
    },
  }
}

/** The names a report declares at its top level (`export interface Pool`, `export class Pool`, ...). */
function exportedNames(report) {
  const names = new Set()
  for (const match of report.matchAll(
    /^export (?:declare )?(?:abstract )?(?:class|interface|type|function|const|let|enum|namespace) (\w+)/gm,
  )) {
    names.add(match[1])
  }
  return names
}

/** API Extractor titles every report with the package name; say which entry point it is. */
function retitle(report, entry) {
  return report.replace(/^## API Report File for "[^"]*"/, `## API Report File for "${entry.importName}"`)
}

function diff(committed, generated) {
  const args = [
    'diff',
    '--no-index',
    '--no-color',
    '--',
    relative(root, committed),
    relative(root, generated),
  ]
  return spawnSync('git', args, { cwd: root, encoding: 'utf8' }).stdout
}

rmSync(generatedFolder, { recursive: true, force: true })
mkdirSync(generatedFolder, { recursive: true })
/** Every name some entry point exports: `import type { Pool } from 'headless-lb'` names it for all. */
const exportedAnywhere = new Set()
/**
 * ae-forgotten-export messages (a type the public API reaches but that its entry point does not
 * export), judged once every entry point's names are known: a user must be able to name every
 * type, from some entry point. Fix one by exporting it, or by taking it out of the public types
 * (private, or @internal: stripped from the declarations).
 */
const forgotten = []
const problems = []
const changed = []
for (const entry of entryPoints()) {
  if (!existsSync(entry.types)) {
    console.error(`api-report: ${relative(root, entry.types)} is missing: run \`npm run build\` first.`)
    process.exit(1)
  }
  const config = ExtractorConfig.prepare({
    configObject: configFor(entry),
    configObjectFullPath: join(root, 'api-extractor.json'),
    packageJsonFullPath: join(root, 'package.json'),
  })
  const result = Extractor.invoke(config, {
    localBuild: true,
    messageCallback(message) {
      if (message.category === 'console') {
        // API Extractor's own progress and "please copy the file" advice; this script says what to do.
        if (message.logLevel !== ExtractorLogLevel.Error) message.handled = true
        return
      }
      if (message.messageId === 'ae-forgotten-export') {
        const where = message.sourceFilePath
          ? `${relative(root, message.sourceFilePath)}:${message.sourceFileLine}`
          : '?'
        forgotten.push({ entry, name: /The symbol "(\w+)"/.exec(message.text)?.[1] ?? '', where })
        message.logLevel = ExtractorLogLevel.None
        message.handled = true
      }
    },
  })
  if (result.errorCount > 0)
    problems.push(`${entry.importName}: API Extractor reported ${result.errorCount} error(s) above.`)
  const generatedFile = join(generatedFolder, entry.reportName)
  const report = retitle(readFileSync(generatedFile, 'utf8'), entry)
  writeFileSync(generatedFile, report)
  for (const name of exportedNames(report)) exportedAnywhere.add(name)
  const committedFile = join(reportFolder, entry.reportName)
  const committed = existsSync(committedFile) ? readFileSync(committedFile, 'utf8') : undefined
  if (committed !== report) changed.push({ entry, committedFile, generatedFile, report })
}

for (const { entry, name, where } of forgotten) {
  if (exportedAnywhere.has(name)) continue
  problems.push(
    `${entry.importName}: ${name} is reachable from the public API but no entry point exports it (${where}): ` +
      'export it, or make it private or @internal (stripped from the declarations).',
  )
}
if (problems.length > 0) {
  console.error(problems.map((line) => `api-report: ${line}`).join('\n'))
  process.exit(1)
}
const stale = (existsSync(reportFolder) ? readdirSync(reportFolder, { withFileTypes: true }) : [])
  .filter((file) => file.isFile() && file.name.endsWith('.api.md'))
  .map((file) => file.name)
  .filter((name) => !entryPoints().some((entry) => entry.reportName === name))
if (check) {
  if (changed.length > 0 || stale.length > 0) {
    for (const { committedFile, generatedFile } of changed) {
      console.error(
        existsSync(committedFile)
          ? diff(committedFile, generatedFile)
          : `+ ${relative(root, committedFile)} (new entry point)`,
      )
    }
    for (const name of stale) console.error(`- etc/${name} (no such entry point any more)`)
    const names = changed.map(({ entry }) => `"${entry.importName}"`).join(', ') || 'the package'
    console.error(
      `api-report: the public API of ${names} differs from etc/*.api.md (diff above).\n` +
        'If the change is intended, run `npm run api:update` and commit etc/ with it, so that it shows in ' +
        'review; if not, undo the change to the exported types.',
    )
    rmSync(generatedFolder, { recursive: true, force: true })
    process.exit(1)
  }
} else {
  mkdirSync(reportFolder, { recursive: true })
  for (const { committedFile, report } of changed) writeFileSync(committedFile, report)
  for (const name of stale) rmSync(join(reportFolder, name))
  const touched = [
    ...changed.map(({ entry }) => `etc/${entry.reportName}`),
    ...stale.map((name) => `etc/${name} (removed)`),
  ]
  console.log(
    touched.length > 0
      ? `api-report: updated ${touched.join(', ')}`
      : 'api-report: etc/*.api.md are up to date',
  )
}
rmSync(generatedFolder, { recursive: true, force: true })
