/**
 * The ```ts snippets of README.md and docs/*.md, as files a user's project can type-check: each becomes a module of
 * its own (`export {}` added), named after its document and line. A snippet that imports vitest and declares tests
 * (`it(`, `test(` or `describe(` at the start of a line) is a test file, and runs.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';

export interface DocSnippet {
  /** `docs/testing.md:14`: where the fence opens. */
  readonly source: string;
  /** A file name for it: `testing-14.ts`, or `testing-14.test.ts` when it is a test. */
  readonly fileName: string;
  readonly code: string;
}

const FENCE = /^```(?:ts|typescript)[ \t]*\n([\s\S]*?)^```[ \t]*$/gm;

export function docSnippets(root: string): DocSnippet[] {
  const documents = [
    'README.md',
    ...readdirSync(join(root, 'docs'))
      .filter((name) => name.endsWith('.md'))
      .sort()
      .map((name) => join('docs', name)),
  ];
  return documents.flatMap((document) => {
    const text = readFileSync(join(root, document), 'utf8');
    return [...text.matchAll(FENCE)].map((match) => {
      const line = text.slice(0, match.index).split('\n').length;
      const code = match[1] as string;
      const stem = `${basename(document, '.md').toLowerCase()}-${line}`;
      const isTest = /from 'vitest'/.test(code) && /^(it|test|describe)\(/m.test(code);
      return {
        source: `${document}:${line}`,
        fileName: `${stem}${isTest ? '.test' : ''}.ts`,
        code: `${code}\nexport {};\n`,
      };
    });
  });
}
