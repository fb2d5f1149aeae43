import { describe, expect, it } from 'vitest'
import { extractSnippets, snippetSource } from './extract-snippets.js'

const md = [
  '# Title', // 1
  '', // 2
  '```ts', // 3
  "import { createPool } from 'headless-lb'", // 4
  '```', // 5
  '', // 6
  '<!-- snippet-in: test/integration/ -->', // 7
  '<!-- snippet-prelude: declare const a: number -->', // 8
  '<!-- snippet-prelude: declare const b: string -->', // 9
  '', // 10
  '```ts', // 11
  "import { x } from '../lab/index.js'", // 12
  'a + b', // 13
  '```', // 14
  '```sh', // 15
  'npm test', // 16
  '```', // 17
  '<!-- snippet: skip (pseudo-code) -->', // 18
  '```typescript', // 19
  'pool.on(...)', // 20
  '```', // 21
].join('\n')

describe('extractSnippets', () => {
  it('finds ts blocks with their first code line, preludes, directory and skips', () => {
    const found = extractSnippets('doc.md', md)
    expect(found.map((s) => [s.line, s.prelude.length, s.dir, s.skip])).toEqual([
      [4, 0, '', undefined],
      [12, 2, 'test/integration', undefined],
      [20, 0, '', 'pseudo-code'],
    ])
    expect(found[1]?.code).toBe("import { x } from '../lab/index.js'\na + b")
  })

  it('a skip without a reason is kept with an empty reason (the doc test rejects it)', () => {
    const [s] = extractSnippets('doc.md', '<!-- snippet: skip -->\n```ts\nx\n```')
    expect(s?.skip).toBe('')
  })

  it('rejects annotations that do not stand right above a ts block', () => {
    expect(() =>
      extractSnippets('doc.md', '<!-- snippet-prelude: declare const a: 1 -->\ntext\n```ts\n```'),
    ).toThrow(/doc.md:2: snippet annotation not directly above/)
    expect(() => extractSnippets('doc.md', '<!-- snippet: skip (x) -->\n```sh\nls\n```')).toThrow(
      /above a non-ts block/,
    )
    expect(() => extractSnippets('doc.md', '<!-- snippet-prelud: x -->\n```ts\n```')).toThrow(/unreadable/)
    expect(() => extractSnippets('doc.md', '```ts\nx')).toThrow(/doc.md:1: code block never closed/)
  })
})

describe('snippetSource', () => {
  it('puts the prelude first, says how many lines it takes, and rebases relative imports only', () => {
    const [, s] = extractSnippets('doc.md', md)
    const { text, codeOffset } = snippetSource(s!, (spec) => `REBASED:${spec}`)
    const lines = text.split('\n')
    expect(codeOffset).toBe(3)
    expect(lines[1]).toBe('declare const a: number')
    expect(lines[codeOffset]).toBe("import { x } from 'REBASED:../lab/index.js'")
    expect(text).toMatch(/export \{\}\n$/)
    const [first] = extractSnippets('doc.md', md)
    expect(snippetSource(first!, (spec) => `REBASED:${spec}`).text).toContain("from 'headless-lb'")
  })
})
