/**
 * Every operator exports a zod schema of its options (the runtime check and the source of the reference docs).
 * These tests keep each schema in step with its TypeScript options interface and make sure every field is described.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import * as z from 'zod';
import type { AwaitRetryDueOptions, awaitRetryDueOptionsSchema } from '../../../operators/awaitRetryDue.js';
import type {
  BranchToDeadLetterOptions,
  branchToDeadLetterOptionsSchema,
} from '../../../operators/branchToDeadLetter.js';
import type { DedupeOptions, dedupeOptionsSchema } from '../../../operators/dedupe.js';
import type { FilterValueOptions, filterValueOptionsSchema } from '../../../operators/filterValue.js';
import { type MapValueOptions, mapValue, type mapValueOptionsSchema } from '../../../operators/mapValue.js';
import type { MemoryDedupeStoreOptions, memoryDedupeStoreOptionsSchema } from '../../../operators/memoryDedupeStore.js';
import type { ParseOptions, parseOptionsSchema } from '../../../operators/parse.js';
import type { ParseJsonOptions, parseJsonOptionsSchema } from '../../../operators/parseJson.js';
import type { PublishOptions, publishOptionsSchema } from '../../../operators/publish.js';
import type { RedisDedupeStoreOptions, redisDedupeStoreOptionsSchema } from '../../../operators/redisDedupeStore.js';
import type {
  RetryTopicPipelinesOptions,
  retryTopicPipelinesOptionsSchema,
} from '../../../operators/retryTopics/retryTopicPipelines.js';
import type { RetryViaTopicsOptions, retryViaTopicsOptionsSchema } from '../../../operators/retryViaTopics.js';
import type { RetryWithBackoffOptions, retryWithBackoffOptionsSchema } from '../../../operators/retryWithBackoff.js';
import type { RouteOptions, routeOptionsSchema } from '../../../operators/route.js';
import type { SinkOptions, sinkOptionsSchema } from '../../../operators/sink.js';
import type { SinkBatchOptions, sinkBatchOptionsSchema } from '../../../operators/sinkBatch.js';
import type { TapValueOptions, tapValueOptionsSchema } from '../../../operators/tapValue.js';
import type { ValidateOptions, validateOptionsSchema } from '../../../operators/validate.js';
import { OPTION_SCHEMAS } from '../../../scripts/docs/operatorTables.js';
import { TributaryError } from '../../../src/errors.js';

describe('operator option schemas', () => {
  it.each(Object.entries(OPTION_SCHEMAS))('%s: the schema and every field are described', (_operator, schema) => {
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

  it('have the same fields as the options interfaces', () => {
    type Keys<S extends z.ZodObject> = keyof z.input<S>;
    expectTypeOf<Keys<typeof parseJsonOptionsSchema>>().toEqualTypeOf<keyof ParseJsonOptions>();
    expectTypeOf<Keys<typeof parseOptionsSchema>>().toEqualTypeOf<keyof ParseOptions>();
    expectTypeOf<Keys<typeof validateOptionsSchema>>().toEqualTypeOf<keyof ValidateOptions>();
    expectTypeOf<Keys<typeof retryWithBackoffOptionsSchema>>().toEqualTypeOf<keyof RetryWithBackoffOptions>();
    expectTypeOf<Keys<typeof sinkOptionsSchema>>().toEqualTypeOf<keyof SinkOptions>();
    expectTypeOf<Keys<typeof sinkBatchOptionsSchema>>().toEqualTypeOf<keyof SinkBatchOptions>();
    expectTypeOf<Keys<typeof mapValueOptionsSchema>>().toEqualTypeOf<keyof MapValueOptions>();
    expectTypeOf<Keys<typeof filterValueOptionsSchema>>().toEqualTypeOf<keyof FilterValueOptions>();
    expectTypeOf<Keys<typeof tapValueOptionsSchema>>().toEqualTypeOf<keyof TapValueOptions>();
    expectTypeOf<Keys<typeof dedupeOptionsSchema>>().toEqualTypeOf<keyof DedupeOptions<unknown>>();
    expectTypeOf<Keys<typeof memoryDedupeStoreOptionsSchema>>().toEqualTypeOf<keyof MemoryDedupeStoreOptions>();
    expectTypeOf<Keys<typeof redisDedupeStoreOptionsSchema>>().toEqualTypeOf<keyof RedisDedupeStoreOptions>();
    expectTypeOf<Keys<typeof publishOptionsSchema>>().toEqualTypeOf<keyof PublishOptions<unknown>>();
    expectTypeOf<Keys<typeof branchToDeadLetterOptionsSchema>>().toEqualTypeOf<keyof BranchToDeadLetterOptions>();
    expectTypeOf<Keys<typeof routeOptionsSchema>>().toEqualTypeOf<keyof RouteOptions>();
    expectTypeOf<Keys<typeof retryViaTopicsOptionsSchema>>().toEqualTypeOf<keyof RetryViaTopicsOptions>();
    expectTypeOf<Keys<typeof retryTopicPipelinesOptionsSchema>>().toEqualTypeOf<keyof RetryTopicPipelinesOptions>();
    expectTypeOf<Keys<typeof awaitRetryDueOptionsSchema>>().toEqualTypeOf<keyof AwaitRetryDueOptions>();
  });

  it('accept the defaults (no options) where no option is required', () => {
    for (const [operator, schema] of Object.entries(OPTION_SCHEMAS)) {
      const required = ['dedupe', 'redisDedupeStore', 'retryViaTopics', 'retryTopicPipelines'].includes(operator);
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
