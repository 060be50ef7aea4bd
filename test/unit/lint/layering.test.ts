/**
 * The folders depend one way: operators/ builds on src/, never the reverse (a cycle between them made every module
 * of one load the other's). Only the package entry src/index.ts gathers the operators for users.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const ENTRY_POINTS = new Set(['src/index.ts']);

function sourceFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => relative(root, join(e.parentPath, e.name)));
}

/** Relative module specifiers of a file's import and export declarations, resolved to repository paths. */
function importedPaths(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  const specifiers = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;]*?from\s*'(\.{1,2}\/[^']+)'/g)].map(
    (m) => m[1] as string,
  );
  return specifiers.map((s) => relative(root, resolve(join(root, dirname(file)), s)));
}

describe('folder layering', () => {
  it('finds imports in a file (the check below reads them)', () => {
    expect(importedPaths('src/index.ts')).toContain('operators/index.js');
  });

  it('no module in src/ imports from operators/, except the package entry', () => {
    const offending = sourceFiles('src')
      .filter((file) => !ENTRY_POINTS.has(file))
      .flatMap((file) =>
        importedPaths(file)
          .filter((p) => p.startsWith('operators/'))
          .map((p) => `${file} → ${p}`),
      );
    expect(offending).toEqual([]);
  });
});
