/** Group mistakes caught when the engine is created, before any broker is asked (reliability review F11). */
import { describe, expect, it } from 'vitest';
import { createEngine, definePipeline, TributaryError } from '../../../src/index.js';

describe('consumer groups', () => {
  it('F11: two pipelines of one engine with the same groupId are refused with a clear error', () => {
    const pipeline = (name: string, topic: string) =>
      definePipeline({
        name,
        source: { topics: [topic], groupId: 'shared-group' },
        deadLetter: { topic: 'dlq' },
        build: (stream) => stream,
      });
    let error: unknown;
    try {
      createEngine({ kafka: { brokers: ['127.0.0.1:1'] }, pipelines: [pipeline('pa', 'a'), pipeline('pb', 'b')] });
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(TributaryError);
    expect((error as TributaryError).code).toBe('TRIBUTARY_ERR_PIPELINE_DEFINITION');
    expect((error as Error).message).toContain('pipelines "pa" and "pb" share the consumer group "shared-group"');
  });
});
