import { EMPTY } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { TributaryError } from '../../../src/errors.js';
import { definePipeline, type PipelineConfig } from '../../../src/runtime/definePipeline.js';

const valid: PipelineConfig = {
  name: 'orders',
  source: { topics: ['orders'], groupId: 'orders-group' },
  deadLetter: { topic: 'orders.dlq' },
  build: () => EMPTY,
};

describe('definePipeline', () => {
  it('applies the documented defaults', () => {
    const p = definePipeline(valid);
    expect(p).toMatchObject({
      maxInFlight: 1000,
      ordering: 'partition',
      commitIntervalMs: 1000,
      drainTimeoutMs: 30_000,
      source: { fromBeginning: true },
    });
  });

  it('names every wrong field in one readable error', () => {
    const bad = {
      ...valid,
      name: 'bad name!',
      source: { topics: [], groupId: '' },
      maxInFlight: 0,
      consumer: { maxBytes: 0 },
    };
    let error: unknown;
    try {
      definePipeline(bad);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TributaryError);
    const message = (error as TributaryError).message;
    expect((error as TributaryError).code).toBe('TRIBUTARY_ERR_PIPELINE_DEFINITION');
    expect(message).toContain('pipeline "bad name!" is invalid');
    expect(message).toMatch(/name: a stage-safe name/);
    expect(message).toMatch(/source\.topics: at least one topic/);
    expect(message).toMatch(/source\.groupId/);
    expect(message).toMatch(/maxInFlight/);
    expect(message).toMatch(/consumer\.maxBytes/);
  });

  it('refuses a dead-letter topic that is also a source topic', () => {
    expect(() => definePipeline({ ...valid, deadLetter: { topic: 'orders' } })).toThrow(/a loop/);
  });
});
