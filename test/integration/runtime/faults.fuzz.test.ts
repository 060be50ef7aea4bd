/**
 * Issue 11 §5: 10,000 fuzzed payloads through parseJson → validate → branchToDeadLetter → publish on the real broker. No
 * crash; every invalid one dead-lettered with a reason (tributary-error-code and kafka_dlt-exception-message), every
 * valid one published, the input committed to its end. Replay a failure with FUZZ_SEED=<seed printed below>.
 */
import { describe, expect, it } from 'vitest';
import { branchToDeadLetter, definePipeline, parseJson, publish, validate } from '../../../src/index.js';
import { capturedLogger } from '../../support/capturedLogger.js';
import { uncommitted } from '../../support/delivery.js';
import { eventually, testEngine } from '../../support/engine.js';
import { fuzzPayloads, fuzzSchema } from '../../support/fuzzPayloads.js';
import { createTopic, testKafka, uniqueName } from '../../support/kafka.js';
import { readToEnd } from '../../support/readToEnd.js';
import { seededRandom } from '../../support/seededRandom.js';

const COUNT = 10_000;
const SEED = Number(process.env.FUZZ_SEED ?? 20_111_005);
const REASON_HEADERS = ['tributary-error-code', 'kafka_dlt-exception-message'] as const;

const countBy = <T>(items: readonly T[], of: (item: T) => string): string =>
  [...items.reduce((m, item) => m.set(of(item), (m.get(of(item)) ?? 0) + 1), new Map<string, number>())]
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');

describe('faults: fuzzed payloads', () => {
  it(`${COUNT} fuzzed values: no crash, every invalid one dead-lettered with a reason, every valid one published`, async () => {
    const payloads = fuzzPayloads(COUNT, seededRandom(SEED));
    // values up to ~1.1 MB (over parseJson's 1 MiB limit) must get into the input topic
    const input = await createTopic('fuzz-in', 4, { 'max.message.bytes': String(16 * 1024 * 1024) });
    const output = await createTopic('fuzz-out', 4);
    const dlq = await createTopic('fuzz-dlq', 2);
    const kafka = testKafka('fuzz-test');
    const producer = kafka.producer();
    await producer.connect();
    try {
      for (let i = 0; i < COUNT; i += 200) {
        await producer.send({
          topic: input,
          acks: -1,
          messages: payloads.slice(i, i + 200).map((p) => ({ key: p.key, value: p.value, headers: p.headers })),
        });
      }
    } finally {
      await producer.disconnect();
    }

    const groupId = uniqueName('fuzz-group');
    const logs = capturedLogger();
    const engine = testEngine({
      logger: logs.logger,
      pipelines: [
        definePipeline({
          name: 'fuzzed',
          source: { topics: [input], groupId },
          deadLetter: { topic: dlq },
          ordering: 'unordered',
          commitIntervalMs: 200,
          build: (records) => records.pipe(parseJson(), validate(fuzzSchema), branchToDeadLetter(), publish(output)),
        }),
      ],
    });
    await engine.start();
    let left = COUNT;
    await eventually(
      async () => {
        left = await uncommitted(kafka, groupId, input);
        return left === 0;
      },
      'the whole fuzzed input committed',
      90_000,
    ).catch((error: unknown) => {
      throw new Error(`${String(error)} (seed ${SEED}): ${left} uncommitted; engine said: ${logs.summary()}`);
    });
    const status = engine.status();
    await engine.stop();

    const published = await readToEnd(kafka, output);
    const deadLetters = await readToEnd(kafka, dlq);
    const publishedIds = new Set<number>();
    for (const r of published) {
      const value = JSON.parse(r.value?.toString() ?? 'null') as { id?: string } | null;
      publishedIds.add(Number(value?.id?.slice(1)));
    }
    const deadById = new Map(deadLetters.map((r) => [Number(r.headers['fuzz-id']?.toString()), r]));
    const problems: string[] = [];
    for (const p of payloads) {
      const dead = deadById.get(p.index);
      if (p.valid) {
        if (!publishedIds.has(p.index)) problems.push(`${p.index} ${p.kind}: valid but not published`);
        if (dead)
          problems.push(`${p.index} ${p.kind}: valid but dead-lettered (${dead.headers['tributary-error-code']})`);
        continue;
      }
      if (publishedIds.has(p.index)) problems.push(`${p.index} ${p.kind}: invalid but published`);
      if (!dead) problems.push(`${p.index} ${p.kind}: invalid and not dead-lettered`);
      for (const header of REASON_HEADERS) {
        if (dead && !dead.headers[header]?.length) problems.push(`${p.index} ${p.kind}: dead letter without ${header}`);
      }
    }
    const valid = payloads.filter((p) => p.valid).length;
    const duplicates = published.length + deadLetters.length - publishedIds.size - deadById.size;
    console.info(
      `[fuzz test] seed ${SEED}: ${COUNT} payloads (${valid} valid), ${publishedIds.size} published, ` +
        `${deadById.size} dead-lettered (${countBy(deadLetters, (r) => r.headers['tributary-error-code']?.toString() ?? 'no code')}; ` +
        `${deadLetters.filter((r) => r.headers['tributary-value-omitted']).length} without their value), ` +
        `${duplicates} duplicates, ${problems.length} problems; kinds: ${countBy(payloads, (p) => p.kind)}; ` +
        `engine warnings: ${logs.summary(4)}`,
    );
    expect(problems.slice(0, 20), `seed ${SEED}`).toEqual([]);
    expect(status.pipelines[0]?.state).toBe('running');
    expect(logs.entries.filter((e) => /crash/i.test(e.msg)).map((e) => e.msg)).toEqual([]);
    // `__proto__` and `constructor.prototype` keys never reached a real prototype
    expect((Object.prototype as Record<string, unknown>).polluted).toBeUndefined();
  }, 150_000);
});
