import { map } from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  DEAD_LETTER_HEADERS,
  definePipeline,
  type Element,
  failed,
  publish,
  readIntegerHeader,
  TributaryError,
} from '../../../src/index.js';
import { eventually, testEngine } from '../../support/engine.js';
import { collect, consume, createTopic, expectCommittedToEnd, produce, uniqueName } from '../../support/kafka.js';

/** A stage that turns records whose value starts with "bad" into failed elements. */
const rejectBad = map((el: Element<Buffer | null>): Element<Buffer | null> => {
  if (!el.ok || !el.value?.toString().startsWith('bad')) return el;
  return failed(el, 'rejectBad', new TributaryError('TRIBUTARY_ERR_VALIDATION', `rejected ${el.value.toString()}`));
});

describe('failures at the end of the chain and in the chain itself', () => {
  it('dead-letters failed elements with their origin, publishes the rest, and commits everything', async () => {
    const input = await createTopic('fail-in', 3);
    const output = await createTopic('fail-out', 3);
    const dlq = await createTopic('fail-dlq', 1);
    const groupId = uniqueName('fail-group');
    const records = Array.from({ length: 1000 }, (_, i) => ({
      key: `k${i % 10}`,
      value: i % 50 === 7 ? `bad-${i}` : `good-${i}`,
      headers: { 'correlation-id': `c-${i}` },
    }));
    await produce(input, records);
    const engine = testEngine({
      pipelines: [
        definePipeline({
          name: 'rejecting',
          source: { topics: [input], groupId },
          deadLetter: { topic: dlq },
          build: (stream) => stream.pipe(rejectBad, publish(output)),
        }),
      ],
    });
    await engine.start();
    const dead = await consume(dlq, 20);
    const published = await consume(output, 980);
    await engine.stop();

    expect(published.every((r) => r.value?.startsWith('good-'))).toBe(true);
    expect(new Set(published.map((r) => r.value)).size).toBe(980);
    expect(dead.map((r) => r.value).sort()).toEqual(
      records
        .filter((r) => r.value.startsWith('bad'))
        .map((r) => r.value)
        .sort(),
    );
    for (const d of dead) {
      const i = Number(d.value?.slice(4));
      expect(d.key).toBe(`k${i % 10}`);
      expect(d.headers['correlation-id']).toBe(`c-${i}`);
      expect(d.headers[DEAD_LETTER_HEADERS.originalTopic]).toBe(input);
      expect(d.headers[DEAD_LETTER_HEADERS.originalConsumerGroup]).toBe(groupId);
      expect(d.headers[DEAD_LETTER_HEADERS.stage]).toBe('rejectBad');
      expect(d.headers[DEAD_LETTER_HEADERS.exceptionMessage]).toBe(`rejected bad-${i}`);
      expect(d.headers[DEAD_LETTER_HEADERS.pipeline]).toBe('rejecting');
    }
    // kafka_dlt-original-offset is a Spring int64: it points back at the poison record in its partition
    const raw = await consume(input, 1000);
    const byOffset = new Map(raw.map((r) => [`${r.partition}/${r.offset}`, r.value]));
    for (const d of dead) {
      const partition = Number(readIntegerHeader(d.rawHeaders[DEAD_LETTER_HEADERS.originalPartition]));
      const offset = readIntegerHeader(d.rawHeaders[DEAD_LETTER_HEADERS.originalOffset]);
      expect(byOffset.get(`${partition}/${offset}`)).toBe(d.value);
    }

    await expectCommittedToEnd(groupId, [input]);
  });

  it('a chain that throws restarts from committed offsets and loses nothing', async () => {
    const input = await createTopic('throw-in', 2);
    const output = await createTopic('throw-out', 2);
    const dlq = await createTopic('throw-dlq', 1);
    await produce(
      input,
      Array.from({ length: 500 }, (_, i) => ({ key: `k${i % 5}`, value: String(i) })),
    );
    const out = await collect(output);
    let thrown = 0;
    const engine = testEngine({
      pipelines: [
        definePipeline({
          name: 'throwing',
          source: { topics: [input], groupId: uniqueName('throw-group') },
          deadLetter: { topic: dlq },
          build: (stream) =>
            stream.pipe(
              map((el) => {
                // a bug in user code: a raw RxJS map that throws once
                if (el.ok && el.value?.toString() === '250' && thrown === 0) {
                  thrown++;
                  throw new Error('bug in user code');
                }
                return el;
              }),
              publish(output),
            ),
        }),
      ],
    });
    await engine.start();
    const values = new Set<string>();
    await eventually(() => {
      for (const r of out.records) if (r.value !== undefined) values.add(r.value);
      return values.size >= 500;
    }, 'all 500 records after the restart');
    expect(thrown).toBe(1);
    expect(engine.status().pipelines[0]?.state).toBe('running');
    await engine.stop();
  });
});
