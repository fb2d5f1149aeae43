// Lets Node 24 run the repository's TypeScript directly (type stripping) for the demo, examples and benchmarks:
// sources import './x.js' as tsc wants, and this hook resolves that to './x.ts' when only the
// TypeScript file exists.  Usage: node --import ./scripts/ts-resolve.mjs examples/demo/demo.ts
import { registerHooks } from 'node:module'

registerHooks({
  resolve(specifier, context, nextResolve) {
    try {
      return nextResolve(specifier, context)
    } catch (error) {
      if (specifier.startsWith('.') && specifier.endsWith('.js')) {
        return nextResolve(`${specifier.slice(0, -3)}.ts`, context)
      }
      throw error
    }
  },
})
