import { from, map } from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  definePipeline,
  type Element,
  laneOfElement,
  mergeMapByLane,
  type OrderingMode,
  publish,
} from '../../../src/index.js';
import { testEngine } from '../../support/engine.js';
import { collect, createTopic, produce, uniqueName } from '../../support/kafka.js';

async function runOrdering(ordering: OrderingMode) {
  const input = await createTopic(`order-${ordering}-in`, 3);
  const output = await createTopic(`order-${ordering}-out`, 3);
  const dlq = await createTopic(`order-${ordering}-dlq`, 1);
  const keys = 60;
  const perKey = 50;
  const records = [];
  for (let seq = 0; seq < perKey; seq++) {
    for (let k = 0; k < keys; k++) records.push({ key: `key-${k}`, value: JSON.stringify({ key: `key-${k}`, seq }) });
  }
  await produce(input, records);
  const out = await collect(output);

  // concurrency observed per partition inside the work stage
  const active = new Map<number, number>();
  const maxActive = new Map<number, number>();
  const workStage = mergeMapByLane((el: Element<Buffer | null>) => {
    const p = el.origin.partition;
    active.set(p, (active.get(p) ?? 0) + 1);
    maxActive.set(p, Math.max(maxActive.get(p) ?? 0, active.get(p) ?? 0));
    return from(new Promise<void>((done) => setTimeout(done, Math.random() * 3))).pipe(
      map(() => {
        active.set(p, (active.get(p) ?? 1) - 1);
        return el;
      }),
    );
  }, laneOfElement);

  const engine = testEngine({
    pipelines: [
      definePipeline({
        name: `ordering-${ordering}`,
        source: { topics: [input], groupId: uniqueName('order-group') },
        deadLetter: { topic: dlq },
        ordering,
        maxInFlight: 500,
        build: (stream) => stream.pipe(workStage, publish(output)),
      }),
    ],
  });
  await engine.start();
  await out.waitFor(records.length, 120_000);
  await engine.stop();

  const lastSeq = new Map<string, number>();
  let checked = 0;
  for (const r of out.records) {
    const { key, seq } = JSON.parse(r.value ?? '{}') as { key: string; seq: number };
    expect(seq, `order of ${key}`).toBe((lastSeq.get(key) ?? -1) + 1);
    lastSeq.set(key, seq);
    checked++;
  }
  expect(checked).toBe(records.length);
  expect(lastSeq.size).toBe(keys);
  return Math.max(...maxActive.values());
}

describe('ordering', () => {
  it('partition mode: one record at a time per partition, every key in order', async () => {
    expect(await runOrdering('partition')).toBe(1);
  });

  it('key mode: keys of one partition run concurrently, every key in order', async () => {
    expect(await runOrdering('key')).toBeGreaterThan(1);
  });
});
