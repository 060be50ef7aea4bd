import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as operators from '../../../operators/index.js';
import * as retryTopics from '../../../operators/retryTopics/index.js';
import {
  OPERATORS_DOC,
  OPTION_SCHEMAS,
  optionTable,
  renderOptionTables,
  tablesIn,
} from '../../../scripts/docs/operatorTables.js';

describe('docs/operators.md option tables', () => {
  it('are what the options schemas say (run `npm run docs:operators` after changing a schema)', () => {
    const doc = readFileSync(OPERATORS_DOC, 'utf8');
    expect(renderOptionTables(doc) === doc, 'docs/operators.md is out of date: run npm run docs:operators').toBe(true);
  });

  it('cover every exported options schema, each once', () => {
    const exported = Object.entries({ ...operators, ...retryTopics })
      .filter(([name]) => name.endsWith('OptionsSchema'))
      .map(([name, schema]) => [name.slice(0, -'OptionsSchema'.length), schema]);
    expect(Object.fromEntries(exported)).toEqual(OPTION_SCHEMAS);
    const tables = tablesIn(readFileSync(OPERATORS_DOC, 'utf8'));
    expect([...tables].sort()).toEqual(Object.keys(OPTION_SCHEMAS).sort());
  });

  it('show each field with its type, whether it is required, its description and the default stage name', () => {
    const table = optionTable('dedupe', operators.dedupeOptionsSchema).split('\n');
    expect(table.slice(0, 2)).toEqual(['| option | type | description |', '| --- | --- | --- |']);
    expect(table).toContain(
      '| `ttlMs` (required) | `integer > 0` | How long an id is remembered after its record finished, in milliseconds. |',
    );
    expect(table).toContain(
      "| `onStoreError` | `'process' \\| 'fail'` | When the store cannot answer: 'process' the record as new (logged) or 'fail' it. Default 'process'. |",
    );
    expect(table.find((row) => row.startsWith('| `name` '))).toMatch(/Default `dedupe`\. \|$/);
    expect(table.find((row) => row.startsWith('| `store` '))).toMatch(/^\| `store` \| `DedupeStore` \|/);
  });

  it('refuse a table no schema answers for', () => {
    expect(() => renderOptionTables('<!-- options: nothing -->\n<!-- /options -->')).toThrow(/no options schema/);
  });
});
