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
 * unoptimized code. When the swap comes late, after those functions were optimized, no such load
 * comes: the optimized code then calls V8's generic load handler for each of those methods, in
 * every tick, for the life of the process (perf: +0.8 µs per request in `Builtins_LoadIC` from
 * `processTicksAndRejections`, `processImmediate`, `runInAsyncScope` and `AsyncResource`;
 * docs/performance.md, "The async context frame"). Whether it happens depended on the process.
 *
 * Here the swap is made at import (looking up AsyncLocalStorage), and one AsyncResource scope is
 * entered right after, while Node's functions still run unoptimized, which makes the new
 * prototype fast. Nothing else changes: no hook is installed, no context is stored.
 */
void AsyncLocalStorage
new AsyncResource('headless-lb').runInAsyncScope(() => undefined)
