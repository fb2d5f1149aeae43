// Lets plain Node run this example's TypeScript straight from the repository: the sources import
// each other as `./x.js` (as TypeScript's nodenext resolution wants), and this hook maps such an
// import to `./x.ts` when only the .ts file exists. Node strips or transforms the types itself.
//   npx node --experimental-transform-types --import ./examples/postgres-primary-replica/resolve-ts.mjs \
//     examples/postgres-primary-replica/main.ts
import { registerHooks } from 'node:module'

registerHooks({
  resolve(specifier, context, nextResolve) {
    try {
      return nextResolve(specifier, context)
    } catch (error) {
      if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !/^\.\.?\/.*\.js$/.test(specifier)) throw error
      return nextResolve(`${specifier.slice(0, -3)}.ts`, context)
    }
  },
})
