import { describe, expect, it } from 'vitest';
import { DEAD_LETTER_HEADERS, definePipeline, publish } from '../../../src/index.js';
import { testEngine } from '../../support/engine.js';
import { consume, createTopic, expectCommittedToEnd, produce, uniqueName } from '../../support/kafka.js';

describe('records the broker refuses for good', () => {
  it('an oversize record fails alone: the rest of its request is published, it is dead-lettered without its value', async () => {
    // the input accepts 2 MB records; the output and dead-letter topics keep the broker default (~1 MB)
    const input = await createTopic('big-in', 3, { 'max.message.bytes': '2097152' });
    const output = await createTopic('big-out', 3);
    const dlq = await createTopic('big-dlq', 1);
    const groupId = uniqueName('big-group');
    const big = 'x'.repeat(1_100_000);
    const records = Array.from({ length: 303 }, (_, i) => ({
      key: `k${i % 7}`,
      value: i % 101 === 50 ? `${i}:${big}` : `${i}:small`,
    }));
    await produce(input, records, 50);

    const engine = testEngine({
      pipelines: [
        definePipeline({
          name: 'oversize',
          source: { topics: [input], groupId },
          deadLetter: { topic: dlq },
          build: (stream) => stream.pipe(publish(output)),
        }),
      ],
    });
    await engine.start();
    const published = await consume(output, 300);
    const dead = await consume(dlq, 3);
    await engine.stop();

    expect(new Set(published.map((r) => r.value)).size).toBe(300);
    expect(published.every((r) => r.value?.endsWith(':small'))).toBe(true);
    for (const d of dead) {
      expect(d.value).toBeUndefined();
      expect(d.headers[DEAD_LETTER_HEADERS.valueOmitted]).toMatch(/refused the value/);
      expect(d.headers[DEAD_LETTER_HEADERS.stage]).toBe('publish');
      expect(d.headers[DEAD_LETTER_HEADERS.exceptionMessage]).toMatch(/too large|MESSAGE_TOO_LARGE|larger/i);
    }
    await expectCommittedToEnd(groupId, [input]);
  });
});
