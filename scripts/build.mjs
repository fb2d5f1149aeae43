// Builds dist/esm and dist/cjs with tsc, then marks dist/cjs as CommonJS so that Node
// reads its .js files as CommonJS whatever the package's own "type" says.
import { execFileSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'

rmSync('dist', { recursive: true, force: true })
for (const project of ['tsconfig.build.json', 'tsconfig.cjs.json']) {
  execFileSync('tsc', ['-p', project], { stdio: 'inherit' })
}
mkdirSync('dist/cjs', { recursive: true })
writeFileSync('dist/cjs/package.json', '{ "type": "commonjs" }\n')
const cli = 'dist/esm/cli/main.js'
if (existsSync(cli)) chmodSync(cli, 0o755)
