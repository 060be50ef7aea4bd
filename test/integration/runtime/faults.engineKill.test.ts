/**
 * Issue 11 §5: kill -9 of the engine (a real process: no drain, no final commit, no leaving the group) three times
 * during a 20,000-record unordered run. Nothing is lost; duplicates are reported.
 */
import { describe, expect, it } from 'vitest';
import { delivery, describeDelivery, uncommitted } from '../../support/delivery.js';
import { eventually } from '../../support/engine.js';
import { type FaultWorkerEnv, killWorker, startFaultWorker } from '../../support/faultWorkers.js';
import { bootstrapServers, collect, createTopic, produce, testKafka, uniqueName } from '../../support/kafka.js';
import { readToEnd } from '../../support/readToEnd.js';

describe('faults: the engine killed with SIGKILL', () => {
  it('three kill -9 during a 20,000-record unordered run lose nothing', async () => {
    const n = 20_000;
    const input = await createTopic('fek-in', 6);
    const output = await createTopic('fek-out', 6);
    const dlq = await createTopic('fek-dlq', 1);
    const ids = Array.from({ length: n }, (_, i) => String(i));
    await produce(
      input,
      ids.map((id) => ({ key: `k${Number(id) % 200}`, value: id })),
    );
    const out = await collect(output);
    const env: FaultWorkerEnv = {
      KAFKA_BROKERS: bootstrapServers().join(','),
      IN: input,
      OUT: output,
      DLQ: dlq,
      GROUP: uniqueName('fek-group'),
      ORDERING: 'unordered',
      // 0–20 ms of work per record: records finish out of order, so the commit must stop below the unfinished ones
      WORK_MS: '20',
      MAX_IN_FLIGHT: '200',
      COMMIT_INTERVAL_MS: '200',
      // a killed member holds its partitions until its session expires: keep that short (the broker's minimum)
      SESSION_TIMEOUT_MS: '6000',
      HEARTBEAT_INTERVAL_MS: '1000',
    };

    // each process is killed once it has published 2,000–4,000 more records
    const killedAfter: number[] = [];
    for (let run = 0; run < 3; run++) {
      const child = await startFaultWorker(env);
      const before = out.records.length;
      const more = 2000 + Math.floor(Math.random() * 2000);
      await out.waitFor(before + more, 60_000);
      await killWorker(child);
      killedAfter.push(out.records.length - before);
    }

    const kafka = testKafka('fek-check');
    const last = await startFaultWorker(env);
    let left = n;
    await eventually(
      async () => {
        left = await uncommitted(kafka, env.GROUP, input);
        return left === 0;
      },
      'the last process to commit the whole input',
      90_000,
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}; ${left} of ${n} uncommitted; worker stderr:\n${last.stderr().slice(-2000)}`);
    });
    last.process.kill('SIGTERM');
    expect(await last.exited()).toBe(0);

    const published = await readToEnd(kafka, output);
    const deadLetters = await readToEnd(kafka, dlq);
    const result = delivery(
      ids,
      published.map((r) => r.value?.toString() ?? ''),
    );
    console.info(
      `[engine kill test] ${n} records, unordered, 3 × kill -9 after ${killedAfter.join('/')} published records: ` +
        `${describeDelivery(result)}, ${deadLetters.length} dead letters`,
    );
    expect(result.lost).toEqual([]);
    expect(result.unexpected).toEqual([]);
    expect(deadLetters).toHaveLength(0);
  }, 150_000);
});
