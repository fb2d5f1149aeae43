/**
 * A request body undici may read at most once (a stream, an async iterable as `fetch` always
 * sends, or a plain iterable such as a generator): it is wrapped so that we know whether any of
 * it was read. Untouched, it can still go to another endpoint after a failed connect; touched,
 * it cannot be sent again.
 */
export class OnceBody implements AsyncIterable<unknown> {
  touched = false
  readonly #source: AsyncIterable<unknown> | Iterable<unknown>
  constructor(source: AsyncIterable<unknown> | Iterable<unknown>) {
    this.#source = source
  }
  [Symbol.asyncIterator](): AsyncIterator<unknown> {
    this.touched = true
    const source = this.#source
    // for await accepts a sync iterator's results as they are (undici writes each chunk).
    return Symbol.asyncIterator in source
      ? source[Symbol.asyncIterator]()
      : (source[Symbol.iterator]() as unknown as AsyncIterator<unknown>)
  }
}

/**
 * The body to dispatch: the caller's own when undici can send it again on every attempt (none,
 * a string, bytes, an array of chunks, a Blob, a FormData), a OnceBody around it when it can be
 * read only once (a stream, an iterable).
 */
export function onceBodyFor(body: unknown): OnceBody | null {
  return !isReplayable(body) && isIterable(body) ? new OnceBody(body) : null
}

function isReplayable(body: unknown): boolean {
  if (body === undefined || body === null || typeof body === 'string' || ArrayBuffer.isView(body)) return true
  if (body instanceof ArrayBuffer || Array.isArray(body)) return true
  // Blob and (undici's) FormData are read afresh on every dispatch; FormData is iterable, but
  // undici encodes it whole, so it must not be wrapped as a one-shot iterable.
  if (
    typeof body === 'object' &&
    (body as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag] === 'FormData'
  ) {
    return true
  }
  return typeof Blob !== 'undefined' && body instanceof Blob
}

/** What undici sends chunk by chunk: streams, async iterables, and iterables (a generator can be read once). */
function isIterable(value: unknown): value is AsyncIterable<unknown> | Iterable<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    (typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function' ||
      typeof (value as Iterable<unknown>)[Symbol.iterator] === 'function')
  )
}
