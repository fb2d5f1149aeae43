import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks'

/**
 * Works around a slow path in Node 24's async context tracking, at import.
 *
 * Node keeps the current async context in an internal class whose static methods (`current`,
 * `set`, `exchange`) run on every `process.nextTick` callback, immediate, timer and
 * `AsyncResource` scope: about ten times per HTTP request through undici. It swaps that class's
 * prototype for an "active" one the first time anything asks whether AsyncLocalStorage uses it
 * (the first timer cleared, or the first `AsyncLocalStorage` looked up). V8 keeps an object that
 * has just become a prototype in dictionary mode until a property load goes through it in
 * unoptimized code, and in our processes none came: the optimized code then called V8's generic
 * load handler for each of those methods, in every tick, for the life of the process (perf: +0.8
 * µs per request in `Builtins_LoadIC` from `processTicksAndRejections`, `processImmediate`,
 * `runInAsyncScope` and `AsyncResource`; docs/performance.md, "The async context frame").
 *
 * Here the swap is made at import, by reading `AsyncLocalStorage` (a getter of `node:async_hooks`
 * that asks). It is passed as the scope's `this` so that no minifier drops the read: in a CommonJS
 * build it is the only thing that makes the swap. Then one `AsyncResource` scope is entered, while
 * Node's functions still run unoptimized, which makes the new prototype fast. No hook is
 * installed and no context is stored; an async_hooks hook of the application sees one
 * `headless-lb` resource. The entries import this file for its effect: `package.json` must not
 * declare `"sideEffects": false`.
 */
new AsyncResource('headless-lb').runInAsyncScope(() => undefined, AsyncLocalStorage)
