import { tap } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { definePipeline, publish } from '../../../src/index.js';
import { eventually, testEngine } from '../../support/engine.js';
import { collect, committedOffsets, createTopic, produce, uniqueName } from '../../support/kafka.js';
import { Valve, work } from '../../support/operators.js';

describe('at-least-once under crashes with out-of-order completion', () => {
  it('loses nothing across three abrupt stops, and never commits past an unfinished record', async () => {
    const input = await createTopic('crash-in', 6);
    const output = await createTopic('crash-out', 6);
    const dlq = await createTopic('crash-dlq', 1);
    const groupId = uniqueName('crash-group');
    const n = 20_000;
    await produce(
      input,
      Array.from({ length: n }, (_, i) => ({ key: `k${i % 200}`, value: String(i) })),
    );
    const out = await collect(output);

    // offsets whose record was published (acknowledged), per partition
    const finished = new Map<number, Set<bigint>>();
    let finishedThisRun = 0;
    const valve = new Valve();
    const pipeline = definePipeline({
      name: 'crash-safe',
      source: { topics: [input], groupId },
      deadLetter: { topic: dlq },
      ordering: 'unordered',
      maxInFlight: 200,
      commitIntervalMs: 200,
      build: (records) =>
        records.pipe(
          work(() => Math.random() * 20),
          valve.stage(),
          publish(output),
          tap((el) => {
            const set = finished.get(el.origin.partition) ?? new Set<bigint>();
            set.add(el.origin.offset);
            finished.set(el.origin.partition, set);
            finishedThisRun++;
          }),
        ),
    });

    const crashPoints = [0, 1, 2].map(() => 2000 + Math.floor(Math.random() * 4000));
    let checkedWhileHeld = false;
    for (const [run, crashAfter] of crashPoints.entries()) {
      finishedThisRun = 0;
      const engine = testEngine({ pipelines: [pipeline] });
      await engine.start();
      await eventually(() => finishedThisRun >= crashAfter, `run ${run} to finish ${crashAfter} records`, 60_000);

      if (run === 1) {
        // hold the pipeline mid-run: records are in flight and unfinished, commits keep running
        valve.close();
        await new Promise((done) => setTimeout(done, 1500));
        const committed = await committedOffsets(groupId, input);
        expect(committed.size).toBeGreaterThan(0);
        for (const [partition, next] of committed) {
          const done = finished.get(partition) ?? new Set<bigint>();
          // everything below the committed offset is finished; the committed offset itself is not (it is held)
          const start = [...done].reduce((a, b) => (a < b ? a : b), next);
          for (let offset = start; offset < next; offset++)
            expect(done.has(offset), `p${partition}@${offset}`).toBe(true);
        }
        const inFlight = engine.status().pipelines[0]?.inFlight ?? 0;
        expect(inFlight).toBeGreaterThan(0);
        expect(inFlight).toBeLessThanOrEqual(200);
        checkedWhileHeld = true;
        valve.open();
      }
      await engine.abort();
    }
    expect(checkedWhileHeld).toBe(true);

    // the last run finishes the topic
    const engine = testEngine({ pipelines: [pipeline] });
    await engine.start();
    const values = new Set<string>();
    await eventually(
      () => {
        for (const r of out.records) if (r.value !== undefined) values.add(r.value);
        return values.size >= n;
      },
      'every input record in the output',
      120_000,
    );
    await engine.stop();

    for (let i = 0; i < n; i++) expect(values.has(String(i))).toBe(true);
    const duplicates = out.records.length - values.size;
    console.info(
      `[crash test] ${n} records, 3 abrupt stops at ${crashPoints.join('/')} finished records: ${duplicates} duplicates in the output`,
    );
    // duplicates come only from records finished but not yet committed at each stop: bounded by
    // commit interval × throughput + maxInFlight per stop, far below the input size
    expect(duplicates).toBeLessThan(n / 2);
  });
});
