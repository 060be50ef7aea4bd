import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { spawnTs } from '../../support/childProcess.js';
import {
  bootstrapServers,
  collect,
  createTopic,
  expectCommittedToEnd,
  produce,
  uniqueName,
} from '../../support/kafka.js';

const worker = join(import.meta.dirname, '..', '..', 'fixtures', 'passthroughWorker.ts');

describe('graceful shutdown', () => {
  it('SIGTERM mid-stream drains, commits and exits 0; a restart completes the topic with no loss and no duplicate', async () => {
    const n = 6000;
    const input = await createTopic('sigterm-in', 3);
    const output = await createTopic('sigterm-out', 3);
    const dlq = await createTopic('sigterm-dlq', 1);
    const group = uniqueName('sigterm-group');
    await produce(
      input,
      Array.from({ length: n }, (_, i) => ({ key: `k${i % 50}`, value: String(i) })),
    );
    const out = await collect(output);
    const env = {
      KAFKA_BROKERS: bootstrapServers().join(','),
      IN: input,
      OUT: output,
      DLQ: dlq,
      GROUP: group,
      WORK_MS: '4',
      MAX_IN_FLIGHT: '100',
    };

    const first = spawnTs(worker, env);
    await first.waitForOutput('ready');
    await out.waitFor(1000);
    first.process.kill('SIGTERM');
    expect(await first.exited()).toBe(0);
    const afterFirst = out.records.length;
    expect(afterFirst).toBeLessThan(n); // it really stopped mid-stream

    const second = spawnTs(worker, env);
    await second.waitForOutput('ready');
    await out.waitFor(n, 90_000);
    // let any duplicate that would come show up, then stop the second one the same way
    await new Promise((done) => setTimeout(done, 1500));
    second.process.kill('SIGTERM');
    expect(await second.exited()).toBe(0);

    const values = out.records.map((r) => r.value);
    expect(new Set(values).size).toBe(n);
    expect(values).toHaveLength(n);
    await expectCommittedToEnd(group, [input]);
    console.info(
      `[shutdown test] first process published ${afterFirst} of ${n} before SIGTERM; total ${values.length}, duplicates 0`,
    );
  });
});
