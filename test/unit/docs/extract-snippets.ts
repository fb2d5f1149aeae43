// Pulls the ```ts blocks out of a Markdown file, with the two HTML comments that may stand right
// before a block (STYLE.md rule 11: examples in docs are type-checked):
//   <!-- snippet-prelude: declare function write(address: string, port: number): Promise<void> -->
//     hidden declarations for what a deliberately partial example uses (several comments may stack);
//   <!-- snippet-in: test/integration -->
//     the block is written as if it were a file in that directory: its relative imports
//     ('../../lab/index.js') resolve from there (for docs about the repository's own tests);
//   <!-- snippet: skip (reason) -->
//     the block is not checked; the reason is required, so a skip says why in review.

export interface Snippet {
  /** The Markdown file, as given (relative to the repository root in the test). */
  readonly file: string
  /** 1-based line of the block's first code line in `file`. */
  readonly line: number
  readonly code: string
  /** Hidden declarations, one entry per prelude comment, in document order. */
  readonly prelude: readonly string[]
  /** Directory (relative to the repository root) the block's relative imports resolve from; '' for the root. */
  readonly dir: string
  /** Set when the block is marked `<!-- snippet: skip (reason) -->`; '' when the reason is missing. */
  readonly skip?: string
}

const FENCE_OPEN = /^```\s*(\S*)\s*$/
const PRELUDE = /^<!--\s*snippet-prelude:\s*([\s\S]*?)\s*-->$/
const IN_DIR = /^<!--\s*snippet-in:\s*(\S+)\s*-->$/
const SKIP = /^<!--\s*snippet:\s*skip\s*(?:\((.*)\))?\s*-->$/

export function extractSnippets(file: string, markdown: string): Snippet[] {
  const lines = markdown.split(/\r?\n/)
  const snippets: Snippet[] = []
  // Annotations collected from the comment lines directly above the next fence.
  let prelude: string[] = []
  let skip: string | undefined
  let dir: string | undefined
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? ''
    const open = FENCE_OPEN.exec(line)
    if (open) {
      const end = findFenceEnd(lines, i + 1)
      if (end === -1) throw new Error(`${file}:${i + 1}: code block never closed`)
      if (open[1] === 'ts' || open[1] === 'typescript') {
        const code = lines.slice(i + 1, end).join('\n')
        snippets.push({
          file,
          line: i + 2,
          code,
          prelude,
          dir: dir ?? '',
          ...(skip === undefined ? {} : { skip }),
        })
      } else if (prelude.length > 0 || skip !== undefined || dir !== undefined) {
        throw new Error(`${file}:${i + 1}: snippet annotation above a non-ts block`)
      }
      prelude = []
      skip = undefined
      dir = undefined
      i = end
      continue
    }
    const trimmed = line.trim()
    const pre = PRELUDE.exec(trimmed)
    if (pre) {
      prelude.push(pre[1] ?? '')
      continue
    }
    const inDir = IN_DIR.exec(trimmed)
    if (inDir) {
      dir = (inDir[1] ?? '').replace(/\/+$/, '')
      continue
    }
    const sk = SKIP.exec(trimmed)
    if (sk) {
      skip = (sk[1] ?? '').trim()
      continue
    }
    if (trimmed.startsWith('<!--') && /snippet/.test(trimmed)) {
      throw new Error(`${file}:${i + 1}: unreadable snippet annotation: ${trimmed}`)
    }
    // Annotations must touch the block (blank lines allowed): anything else resets them.
    if (trimmed !== '' && (prelude.length > 0 || skip !== undefined || dir !== undefined)) {
      throw new Error(`${file}:${i + 1}: snippet annotation not directly above a code block`)
    }
  }
  return snippets
}

function findFenceEnd(lines: readonly string[], from: number): number {
  for (let j = from; j < lines.length; j++) if ((lines[j] ?? '').trim() === '```') return j
  return -1
}

/**
 * The .ts file written for a snippet: prelude first, then the code, then `export {}` so that every
 * snippet is its own module (top-level names do not collide across snippets). Returns the file
 * text and the number of lines before the code, to map a compiler line back to the document.
 */
export function snippetSource(
  snippet: Snippet,
  rebase: (specifier: string) => string = (specifier) => specifier,
): { text: string; codeOffset: number } {
  const head = [
    '// Generated from a Markdown code block by test/unit/docs/doc-snippets.test.ts; do not edit.',
    ...snippet.prelude,
  ].map((line) => rebaseImports(line, rebase))
  const code = rebaseImports(snippet.code, rebase)
  return { text: `${[...head, code].join('\n')}\nexport {}\n`, codeOffset: head.length }
}

/** Rewrites the relative specifiers of `from '...'` and `import('...')`; lines stay where they are. */
function rebaseImports(code: string, rebase: (specifier: string) => string): string {
  return code.replace(
    /(\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)(['"])(\.\.?\/[^'"]*)\2/gm,
    (_all, lead: string, quote: string, specifier: string) => `${lead}${quote}${rebase(specifier)}${quote}`,
  )
}
