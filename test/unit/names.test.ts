import { describe, expect, it } from 'vitest';
import { mapValue } from '../../operators/mapValue.js';
import { parseTopicsCreateArgs } from '../../src/cli/commands/topicsCreate.js';
import { isStageName, isTopicName } from '../../src/names.js';
import { definePipeline } from '../../src/runtime/definePipeline.js';

const pipelineOn = (topic: string) => () =>
  definePipeline({
    name: 'p',
    source: { topics: [topic], groupId: 'g' },
    deadLetter: { topic: 'p.dlq' },
    build: (records) => records,
  });

describe('names', () => {
  it("topic names: Kafka's rule, [A-Za-z0-9._-], 1 to 249 characters, not . or ..", () => {
    for (const topic of ['orders', 'a.b_c-9', 'x'.repeat(249), '...']) expect(isTopicName(topic), topic).toBe(true);
    for (const topic of ['', '.', '..', 'x'.repeat(250), 'has space', 'a/b', 'ü']) {
      expect(isTopicName(topic), topic).toBe(false);
    }
  });

  it('stage names: [A-Za-z0-9._-], 1 to 100 characters', () => {
    for (const name of ['parse', 'orders.parse_v2-final', 'a'.repeat(100)]) expect(isStageName(name), name).toBe(true);
    for (const name of ['', 'a'.repeat(101), 'has space', 'a:b']) expect(isStageName(name), name).toBe(false);
  });

  it('definePipeline, the operators and the CLI apply the same topic rule', () => {
    for (const topic of ['..', 'x'.repeat(250)]) {
      expect(pipelineOn(topic)).toThrow(/a Kafka topic name/);
      expect(() => parseTopicsCreateArgs(['--extra', topic])).toThrow('is not a Kafka topic name');
    }
    expect(pipelineOn('x'.repeat(249))).not.toThrow();
    expect(() => parseTopicsCreateArgs(['--extra', 'x'.repeat(249)])).not.toThrow();
    expect(() => mapValue((v) => v, { name: 'a'.repeat(101) })).toThrow(/a stage name may only contain/);
  });
});
