/**
 * F1: a produce request refused for one partition but written for the others. The shared producer must come out of it
 * with a fresh producer id, so that no record is acknowledged without being written and no written record is refused
 * as "out of order". Runs the engine's ProducerBatcher over the real client port (the broker tests' library).
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { errorMessage } from '../../../src/errors.js';
import { noopObserver } from '../../../src/instrumentation.js';
import { ProducerBatcher } from '../../../src/runtime/producerBatcher.js';
import { testLogger } from '../../support/engine.js';
import { bootstrapServers, consume, createTopic, testAdmin } from '../../support/kafka.js';
import { testKafkaClient } from '../../support/testClient.js';

async function realBatcher(): Promise<ProducerBatcher> {
  const port = testKafkaClient({ brokers: bootstrapServers(), clientId: 'tributary-test-f1' }).producer();
  await port.connect();
  const batcher = new ProducerBatcher(port, { observer: noopObserver, logger: testLogger });
  onTestFinished(async () => {
    batcher.close();
    await port.disconnect();
  });
  return batcher;
}

/** What the batcher said about each value: 'acked' or the refusal's message. */
function outcomes(batcher: ProducerBatcher) {
  const said = new Map<string, string>();
  const send = (topic: string, key: string | null, value: string) =>
    batcher.enqueue({ topic, key, value }, (error) =>
      said.set(value, error === undefined ? 'acked' : errorMessage(error)),
    );
  return { said, send };
}

/** Every acknowledged value of `topic` is in it; returns every record the topic holds (duplicates included). */
async function expectAckedPresent(topic: string, acked: readonly string[]): Promise<string[]> {
  const admin = await testAdmin();
  const ends = await admin.fetchTopicOffsets(topic);
  const total = ends.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
  const records = await consume(topic, total, { timeoutMs: 20_000 });
  const present = new Set(records.map((r) => r.value));
  const missing = acked.filter((v) => !present.has(v));
  console.log(`${topic}: ${acked.length} acked, ${missing.length} of them missing, ${records.length} records`);
  expect(missing).toEqual([]);
  return records.map((r) => r.value ?? '');
}

describe('a request the broker refuses for one partition and writes for the others', () => {
  it('a too-large record beside small ones: those are acked and written, later ones too', async () => {
    const out = await createTopic('f1-out', 3);
    const small = await createTopic('f1-small', 1, { 'max.message.bytes': '20000' });
    const batcher = await realBatcher();
    const { said, send } = outcomes(batcher);
    // both destinations acknowledged once, so the next request carries both
    send(out, 'w', 'warm-out');
    send(small, 'w', 'warm-small');
    await batcher.idle();
    // a1 and a2 share a partition: its part of the request counts two records
    send(out, 'k1', 'a1');
    send(out, 'k1', 'a2');
    send(small, 'k', `BIG${'x'.repeat(30_000)}`);
    await batcher.idle();
    send(out, 'k1', 'b1');
    send(out, 'k1', 'b2');
    await batcher.idle();
    for (const v of ['c1', 'c2', 'c3']) send(out, v, v);
    await batcher.idle();

    const expected = ['warm-out', 'a1', 'a2', 'b1', 'b2', 'c1', 'c2', 'c3'];
    expect(expected.map((v) => [v, said.get(v)])).toEqual(expected.map((v) => [v, 'acked']));
    expect(said.get(`BIG${'x'.repeat(30_000)}`)).toMatch(/larger|too large/i);
    const written = await expectAckedPresent(out, expected);
    console.log(`F1 too-large: ${expected.length} acked, ${written.length} records in the output topic`);
  });

  it('a keyed burst over a small max.message.bytes: every record acked is written, none refused', async () => {
    const hot = await createTopic('f1-hot', 3, { 'max.message.bytes': '50000' });
    const other = await createTopic('f1-other', 3);
    const batcher = await realBatcher();
    const { said, send } = outcomes(batcher);
    send(hot, 'w', 'warm-hot');
    send(other, 'w', 'warm-other');
    await batcher.idle();
    const pad = 'p'.repeat(150);
    const values: [string, string][] = [];
    for (let i = 0; i < 2000; i++) {
      // 90 % share one key: one partition's part of a request passes 50 KB
      const topic = i % 4 === 3 ? other : hot;
      const value = `${i}:${pad}`;
      values.push([topic, value]);
      send(topic, i % 10 === 0 ? `k${i}` : 'hot', value);
    }
    await batcher.idle();
    const refused = values.filter(([, v]) => said.get(v) !== 'acked').map(([, v]) => said.get(v));
    console.log(`F1 keyed burst: ${2000 - refused.length} acked, ${refused.length} refused`);
    expect(refused).toEqual([]);
    const hotValues = values.filter(([t]) => t === hot).map(([, v]) => v);
    const otherValues = values.filter(([t]) => t === other).map(([, v]) => v);
    const inHot = await expectAckedPresent(hot, hotValues);
    const inOther = await expectAckedPresent(other, otherValues);
    console.log(
      `F1 keyed burst: 2000 acked, ${refused.length} refused; in topics: ${inHot.length + inOther.length - 2} ` +
        `(${new Set([...inHot, ...inOther]).size - 2} distinct)`,
    );
  });

  it('a null key on a compacted topic beside accepted records: only it is refused', async () => {
    const out = await createTopic('f1-out', 3);
    const compacted = await createTopic('f1-compacted', 1, { 'cleanup.policy': 'compact' });
    const batcher = await realBatcher();
    const { said, send } = outcomes(batcher);
    send(out, 'w', 'warm-out');
    send(compacted, 'w', 'warm-compacted');
    await batcher.idle();
    for (const v of ['a1', 'a2', 'a3']) send(out, v, v);
    send(compacted, null, 'keyless');
    await batcher.idle();
    for (const v of ['b1', 'b2']) send(out, v, v);
    await batcher.idle();

    const expected = ['warm-out', 'a1', 'a2', 'a3', 'b1', 'b2'];
    expect(expected.map((v) => [v, said.get(v)])).toEqual(expected.map((v) => [v, 'acked']));
    expect(said.get('keyless')).not.toBe('acked');
    const written = await expectAckedPresent(out, expected);
    console.log(`F1 null key: ${expected.length} acked, ${written.length} records in the output topic`);
  });
});
