/**
 * Every operator exports a zod schema of its options (the runtime check and the source of the reference docs).
 * These tests keep each schema in step with its TypeScript config interface and make sure every field is described.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import * as z from 'zod';
import { type DedupeConfig, dedupeConfigSchema } from '../../../operators/dedupe.js';
import { type FilterValueConfig, filterValueConfigSchema } from '../../../operators/filterValue.js';
import { type MapValueConfig, mapValue, mapValueConfigSchema } from '../../../operators/mapValue.js';
import { type MemoryDedupeStoreConfig, memoryDedupeStoreConfigSchema } from '../../../operators/memoryDedupeStore.js';
import { type ParseConfig, parseConfigSchema } from '../../../operators/parse.js';
import { type ParseJsonConfig, parseJsonConfigSchema } from '../../../operators/parseJson.js';
import { type RedisDedupeStoreConfig, redisDedupeStoreConfigSchema } from '../../../operators/redisDedupeStore.js';
import { type RetryWithBackoffConfig, retryWithBackoffConfigSchema } from '../../../operators/retryWithBackoff.js';
import { type SinkConfig, sinkConfigSchema } from '../../../operators/sink.js';
import { type SinkBatchConfig, sinkBatchConfigSchema } from '../../../operators/sinkBatch.js';
import { type TapValueConfig, tapValueConfigSchema } from '../../../operators/tapValue.js';
import { type ValidateConfig, validateConfigSchema } from '../../../operators/validate.js';
import { TributaryError } from '../../../src/errors.js';

const schemas = {
  parseJson: parseJsonConfigSchema,
  parse: parseConfigSchema,
  validate: validateConfigSchema,
  retryWithBackoff: retryWithBackoffConfigSchema,
  sink: sinkConfigSchema,
  sinkBatch: sinkBatchConfigSchema,
  mapValue: mapValueConfigSchema,
  filterValue: filterValueConfigSchema,
  tapValue: tapValueConfigSchema,
  dedupe: dedupeConfigSchema,
  memoryDedupeStore: memoryDedupeStoreConfigSchema,
  redisDedupeStore: redisDedupeStoreConfigSchema,
};

describe('operator option schemas', () => {
  it.each(Object.entries(schemas))('%s: the schema and every field are described', (_operator, schema) => {
    const json = z.toJSONSchema(schema, { unrepresentable: 'any' }) as {
      description?: string;
      properties: Record<string, { description?: string }>;
    };
    expect(json.description).toMatch(/^Options of /);
    const undocumented = Object.entries(json.properties)
      .filter(([, field]) => !field.description)
      .map(([key]) => key);
    expect(undocumented).toEqual([]);
  });

  it('have the same fields as the config interfaces', () => {
    type Keys<S extends z.ZodObject> = keyof z.input<S>;
    expectTypeOf<Keys<typeof parseJsonConfigSchema>>().toEqualTypeOf<keyof ParseJsonConfig>();
    expectTypeOf<Keys<typeof parseConfigSchema>>().toEqualTypeOf<keyof ParseConfig>();
    expectTypeOf<Keys<typeof validateConfigSchema>>().toEqualTypeOf<keyof ValidateConfig>();
    expectTypeOf<Keys<typeof retryWithBackoffConfigSchema>>().toEqualTypeOf<keyof RetryWithBackoffConfig>();
    expectTypeOf<Keys<typeof sinkConfigSchema>>().toEqualTypeOf<keyof SinkConfig>();
    expectTypeOf<Keys<typeof sinkBatchConfigSchema>>().toEqualTypeOf<keyof SinkBatchConfig>();
    expectTypeOf<Keys<typeof mapValueConfigSchema>>().toEqualTypeOf<keyof MapValueConfig>();
    expectTypeOf<Keys<typeof filterValueConfigSchema>>().toEqualTypeOf<keyof FilterValueConfig>();
    expectTypeOf<Keys<typeof tapValueConfigSchema>>().toEqualTypeOf<keyof TapValueConfig>();
    expectTypeOf<Keys<typeof dedupeConfigSchema>>().toEqualTypeOf<keyof DedupeConfig<unknown>>();
    expectTypeOf<Keys<typeof memoryDedupeStoreConfigSchema>>().toEqualTypeOf<keyof MemoryDedupeStoreConfig>();
    expectTypeOf<Keys<typeof redisDedupeStoreConfigSchema>>().toEqualTypeOf<keyof RedisDedupeStoreConfig>();
  });

  it('accept the defaults (no options) where no option is required', () => {
    for (const [operator, schema] of Object.entries(schemas)) {
      const required = ['dedupe', 'redisDedupeStore'].includes(operator);
      expect(schema.safeParse({}).success, operator).toBe(!required);
    }
  });

  it('check stage names when the pipeline is built: [A-Za-z0-9._-], 1 to 100 characters', () => {
    const identity = (value: unknown) => value;
    for (const name of ['a'.repeat(100), 'orders.parse_v2-final', 'A.9']) {
      expect(() => mapValue(identity, { name })).not.toThrow();
    }
    for (const name of ['', 'a'.repeat(101), 'has space', 'a/b', 'ünicode', 'a:b']) {
      let thrown: unknown;
      try {
        mapValue(identity, { name });
      } catch (error) {
        thrown = error;
      }
      expect(thrown, name).toBeInstanceOf(TributaryError);
      expect((thrown as TributaryError).code).toBe('TRIBUTARY_ERR_PIPELINE_DEFINITION');
      expect((thrown as TributaryError).message).toMatch(/^mapValue: invalid options: name: a stage name may only/);
    }
  });
});
