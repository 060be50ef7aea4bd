import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pauseUntilDue } from '../../operators/retryTopics/pauseUntilDue.js';
import { retryTopicName } from '../../operators/retryTopics/topics.js';
import { ERROR_CATALOGUE, isRetriable, TributaryError } from '../../src/errors.js';
import { createMemoryKafka } from '../../src/testing/memoryKafka/memoryKafka.js';

describe('error catalogue', () => {
  it('documents every code in docs/errors.md with its retriable flag', () => {
    const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'errors.md'), 'utf8');
    for (const [code, entry] of Object.entries(ERROR_CATALOGUE)) {
      const row = doc.split('\n').find((line) => line.startsWith(`| \`${code}\``));
      expect(row, code).toBeDefined();
      expect(row?.split('|')[2]?.trim(), code).toBe(entry.retriable ? 'yes' : 'no');
    }
  });

  it('lists only codes the engine or its operators raise', () => {
    const root = join(import.meta.dirname, '..', '..');
    const sources = ['src', 'operators', 'metrics']
      .flatMap((dir) =>
        readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })
          .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
          .map((file) => join(dir, file)),
      )
      .filter((file) => file !== join('src', 'errors.ts'))
      .map((file) => readFileSync(join(root, file), 'utf8'))
      .join('\n');
    const neverRaised = Object.keys(ERROR_CATALOGUE).filter((code) => !sources.includes(`'${code}'`));
    expect(neverRaised).toEqual([]);
  });

  it('throws a TributaryError for an invalid retry plan or pause window, when the pipeline is built', () => {
    const codeOf = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        return error instanceof TributaryError ? error.code : String(error);
      }
      return 'nothing thrown';
    };
    expect(codeOf(() => retryTopicName('orders', 'soon'))).toBe('TRIBUTARY_ERR_PIPELINE_DEFINITION');
    expect(codeOf(() => retryTopicName('x'.repeat(245), '1s'))).toBe('TRIBUTARY_ERR_PIPELINE_DEFINITION');
    expect(codeOf(() => pauseUntilDue(createMemoryKafka(), { windowMs: -1 }))).toBe(
      'TRIBUTARY_ERR_PIPELINE_DEFINITION',
    );
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
