import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CATALOGUE, isRetriable, TributaryError } from '../../src/errors.js';

describe('error catalogue', () => {
  it('documents every code in docs/errors.md with its retriable flag', () => {
    const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'errors.md'), 'utf8');
    for (const [code, entry] of Object.entries(ERROR_CATALOGUE)) {
      const row = doc.split('\n').find((line) => line.startsWith(`| \`${code}\``));
      expect(row, code).toBeDefined();
      expect(row?.split('|')[2]?.trim(), code).toBe(entry.retriable ? 'yes' : 'no');
    }
  });

  it('carries code, retriable and record coordinates', () => {
    const e = new TributaryError('TRIBUTARY_ERR_VALIDATION', 'bad', { topic: 't', partition: 1, offset: 2n });
    expect([e.code, e.retriable, e.topic, e.partition, e.offset]).toEqual([
      'TRIBUTARY_ERR_VALIDATION',
      false,
      't',
      1,
      2n,
    ]);
    expect(isRetriable(e)).toBe(false);
    expect(isRetriable(new TributaryError('TRIBUTARY_ERR_PROCESSING', 'x'))).toBe(true);
    expect(isRetriable({ retriable: false })).toBe(false);
    expect(isRetriable(new Error('plain'))).toBe(true);
  });
});
