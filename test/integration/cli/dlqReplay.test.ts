/**
 * `tributary dlq replay` on the real broker, called in-process: dead letters fixed and replayed reach the output
 * exactly once; a dry run commits nothing; --limit and a second run resume; --to; --stage and --error-code select;
 * bad arguments exit 2.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { defaultReplayGroup, dlqReplayCommand } from '../../../src/cli/commands/dlqReplay.js';
import {
  branchToDeadLetter,
  DEAD_LETTER_HEADERS,
  definePipeline,
  mapValue,
  parseJson,
  publish,
  validate,
} from '../../../src/index.js';
import { eventually, testEngine } from '../../support/engine.js';
import {
  bootstrapServers,
  collect,
  committedOffsets,
  consume,
  createTopic,
  produce,
  uniqueName,
} from '../../support/kafka.js';

function recordedIo() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: {
      stdout: (line: string) => out.push(line),
      stderr: (line: string) => err.push(line),
      env: { KAFKA_BROKERS: bootstrapServers().join(',') } as NodeJS.ProcessEnv,
    },
  };
}

async function replay(argv: string[]) {
  const { out, err, io } = recordedIo();
  const started = performance.now();
  const code = await dlqReplayCommand(argv, io);
  return { code, out, err, ms: Math.round(performance.now() - started) };
}

describe('tributary dlq replay', () => {
  it('replays fixed dead letters to their original topic: each reaches the output exactly once', async () => {
    const input = await createTopic('replay-in', 2);
    const output = await createTopic('replay-out', 2);
    const dlq = await createTopic('replay-dlq', 1);
    const audit = await createTopic('replay-audit', 1);
    const records = Array.from({ length: 40 }, (_, i) => ({
      key: `k${i % 4}`,
      value: JSON.stringify({ id: i, version: i % 4 === 1 ? 2 : 1 }),
      headers: { 'correlation-id': `c-${i}`, 'event-type': 'order.created' },
    }));
    await produce(input, records);

    // version 2 is not supported yet: those 10 records are dead-lettered
    const supported = new Set([1]);
    const Order = z.object({
      id: z.number(),
      version: z.number().refine((v) => supported.has(v), 'unsupported version'),
    });
    const out = await collect(output);
    const dead = await collect(dlq);
    const engine = testEngine({
      pipelines: [
        definePipeline({
          name: uniqueName('replay'),
          source: { topics: [input], groupId: uniqueName('replay-group') },
          deadLetter: { topic: dlq },
          build: (stream) => stream.pipe(parseJson(), validate(Order), branchToDeadLetter(), publish(output)),
        }),
      ],
    });
    await engine.start();
    await out.waitFor(30);
    await dead.waitFor(10);
    expect(dead.records.every((r) => r.headers[DEAD_LETTER_HEADERS.stage] === 'validate')).toBe(true);
    // two dead letters the replay cannot use: the value was left out, and one that names no original topic
    await produce(dlq, [
      {
        key: 'big',
        value: null,
        headers: { [DEAD_LETTER_HEADERS.originalTopic]: input, [DEAD_LETTER_HEADERS.valueOmitted]: 'too large' },
      },
      { key: 'orphan', value: '{"id":999,"version":1}', headers: { 'correlation-id': 'c-orphan' } },
    ]);
    const group = defaultReplayGroup(dlq);

    // a dry run lists what it would do and commits nothing
    const dry = await replay(['--from', dlq, '--dry-run']);
    expect(dry.code, dry.err.join('\n')).toBe(0);
    expect(dry.out.filter((l) => l.startsWith(`would replay ${dlq}/`))).toHaveLength(10);
    expect(dry.out.filter((l) => l.startsWith(`would skip ${dlq}/`))).toHaveLength(2);
    expect(dry.out).toContain('would replay 10, skipped 2');
    expect(dry.out).toContain('dry run: nothing was published or committed');
    expect(dry.out.find((l) => l.startsWith(`would replay ${dlq}/`))).toMatch(
      new RegExp(
        `^would replay ${dlq}/0@\\d+ \\(key "k1" from ${input}/\\d@\\d+; TRIBUTARY_ERR_VALIDATION: version: unsupported version\\) → ${input}$`,
      ),
    );
    expect((await committedOffsets(group, dlq)).get(0)).toBe(-1n);

    // fix the cause, then replay in two steps: --limit 4, then the rest (resumed from the committed progress)
    supported.add(2);
    const first = await replay(['--from', dlq, '--original', '--limit', '4']);
    expect(first.code, first.err.join('\n')).toBe(0);
    expect(first.out).toContain('replayed 4, skipped 0');
    expect(first.out).toContain(`  → ${input}: 4`);
    expect((await committedOffsets(group, dlq)).get(0)).toBe(4n);
    const rest = await replay(['--from', dlq]);
    expect(rest.code, rest.err.join('\n')).toBe(0);
    expect(rest.out).toContain('replayed 6, skipped 2');
    expect(rest.out).toContain('  skipped (value omitted): 1');
    expect(rest.out).toContain('  skipped (no original topic): 1');
    expect(rest.out).toContain(`committed progress of group ${group} on ${dlq}: 0@12`);

    await out.waitFor(40);
    await new Promise((done) => setTimeout(done, 1500)); // room for a duplicate to show up
    const ids = out.records.map((r) => (JSON.parse(r.value ?? '{}') as { id: number }).id);
    expect(ids.sort((a, b) => a - b)).toEqual(records.map((_, i) => i));
    const replayedOut = out.records.filter((r) => r.value?.includes('"version":2'));
    expect(replayedOut.map((r) => r.headers['correlation-id']).sort()).toEqual(
      records
        .filter((r) => r.value.includes('"version":2'))
        .map((r) => r.headers['correlation-id'])
        .sort(),
    );

    // what went back into the input topic: value, key and the user's headers, no dead-letter headers
    const inputNow = await consume(input, 50);
    const replayedIn = inputNow.filter((r) => r.value?.includes('"version":2'));
    expect(replayedIn).toHaveLength(20); // 10 originals + 10 replayed copies, alike
    for (const r of replayedIn) {
      expect(Object.keys(r.headers).sort()).toEqual(['correlation-id', 'event-type']);
      expect(r.key).toBe(`k${Number(r.headers['correlation-id']?.slice(2)) % 4}`);
    }

    // a third run finds nothing new
    const again = await replay(['--from', dlq]);
    expect(again.code).toBe(0);
    expect(again.out).toContain('replayed 0, skipped 0');
    expect(again.out).toContain(`nothing to replay: group ${group} is at the end of ${dlq}`);

    // --to sends every usable record to one topic, with its own progress group
    const audited = await replay(['--from', dlq, '--to', audit, '--group', uniqueName('replay-audit')]);
    expect(audited.code, audited.err.join('\n')).toBe(0);
    expect(audited.out).toContain('replayed 11, skipped 1');
    const auditRecords = await consume(audit, 11);
    expect(auditRecords.map((r) => r.key).filter((k) => k === 'orphan')).toEqual(['orphan']);
    expect(auditRecords.every((r) => !Object.keys(r.headers).some((h) => h.startsWith('kafka_dlt-')))).toBe(true);
    console.error(`[dlqReplay] dry ${dry.ms} ms, limit-4 ${first.ms} ms, rest ${rest.ms} ms, --to ${audited.ms} ms`);

    await eventually(() => engine.status().pipelines.every((p) => p.inFlight === 0), 'the pipeline to drain');
    await engine.stop();
  });

  it('--stage and --error-code replay only the transient failures, leaving the poison records for later', async () => {
    const input = await createTopic('replay-filter-in', 1);
    const output = await createTopic('replay-filter-out', 1);
    const dlq = await createTopic('replay-filter-dlq', 1);
    // ids 0, 5, 10, ...: malformed (parse); ids 1, 6, 11, ...: the pricing API is down for them; the rest priced
    await produce(
      input,
      Array.from({ length: 30 }, (_, id) => ({ key: `k${id % 3}`, value: id % 5 === 0 ? 'not json' : `{"id":${id}}` })),
    );
    let pricingDown = true;
    const out = await collect(output);
    const dead = await collect(dlq);
    const engine = testEngine({
      pipelines: [
        definePipeline({
          name: uniqueName('replay-filter'),
          source: { topics: [input], groupId: uniqueName('replay-filter-group') },
          deadLetter: { topic: dlq },
          build: (stream) =>
            stream.pipe(
              parseJson<{ id: number }>({ name: 'orders.parse' }),
              mapValue(
                (order) => {
                  if (pricingDown && order.id % 5 === 1) throw new Error('pricing API unavailable (HTTP 503)');
                  return order;
                },
                { name: 'orders.pricing' },
              ),
              publish(output),
            ),
        }),
      ],
    });
    await engine.start();
    await out.waitFor(18);
    await dead.waitFor(12);
    const pricingGroup = defaultReplayGroup(dlq, { stages: ['orders.pricing'] });
    expect(pricingGroup).toBe(`tributary-dlq-replay-${dlq}-stage-orders.pricing`);

    const dryPricing = await replay(['--from', dlq, '--stage', 'orders.pricing', '--dry-run']);
    expect(dryPricing.code, dryPricing.err.join('\n')).toBe(0);
    expect(dryPricing.out[0]).toBe(
      `dry run: replaying ${dlq} → original topics (only stage orders.pricing), progress in group ${pricingGroup}`,
    );
    const wouldReplay = dryPricing.out.filter((l) => l.startsWith(`would replay ${dlq}/`));
    expect(wouldReplay).toHaveLength(6);
    expect(wouldReplay.every((l) => l.includes('; TRIBUTARY_ERR_PROCESSING: pricing API unavailable'))).toBe(true);
    expect(dryPricing.out).toContain('would replay 6, skipped 0');
    expect(dryPricing.out).toContain(`  not selected (other stages or error codes, left in ${dlq}): 6`);
    const dryPoison = await replay(['--from', dlq, '--error-code', 'TRIBUTARY_ERR_PARSE', '--dry-run']);
    expect(dryPoison.out).toContain('would replay 6, skipped 0');
    expect(dryPoison.out.filter((l) => l.startsWith('would replay ') && !l.includes('TRIBUTARY_ERR_PARSE'))).toEqual([
      'would replay 6, skipped 0',
    ]);

    // the API is back: replay the pricing failures, 2 then the rest (--limit counts selected records only)
    pricingDown = false;
    const first = await replay(['--from', dlq, '--stage', 'orders.pricing', '--limit', '2']);
    expect(first.code, first.err.join('\n')).toBe(0);
    expect(first.out).toContain('replayed 2, skipped 0');
    // another filter keeps its own progress: it replays all 6 again
    const otherFilter = await replay([
      '--from',
      dlq,
      '--stage',
      'orders.pricing',
      '--error-code',
      'TRIBUTARY_ERR_PROCESSING',
    ]);
    expect(otherFilter.out).toContain('replayed 6, skipped 0');
    const rest = await replay(['--from', dlq, '--stage', 'orders.pricing']);
    expect(rest.code, rest.err.join('\n')).toBe(0);
    expect(rest.out).toContain('replayed 4, skipped 0');
    expect(rest.out).toContain(`committed progress of group ${pricingGroup} on ${dlq}: 0@12`);

    // every priced order arrived (the 6 retried ones twice or three times, by the replays above); no poison record
    await eventually(() => new Set(out.records.map((r) => r.value)).size === 24, 'the 6 replayed orders priced');
    const ids = [...new Set(out.records.map((r) => (JSON.parse(r.value ?? '{}') as { id: number }).id))];
    expect(ids.sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, id) => id).filter((id) => id % 5 !== 0));
    expect(out.records.filter((r) => (JSON.parse(r.value ?? '{}') as { id: number }).id % 5 === 1)).toHaveLength(12);

    // the poison records are still ahead of a replay without filters (its own group)
    const everything = await replay(['--from', dlq, '--dry-run']);
    expect(everything.out).toContain('would replay 12, skipped 0');

    await eventually(() => engine.status().pipelines.every((p) => p.inFlight === 0), 'the pipeline to drain');
    await engine.stop();
  });

  it('exits 1 with one line when the dead-letter topic does not exist', async () => {
    const absent = await replay(['--from', uniqueName('no-such-dlq')]);
    expect(absent.code).toBe(1);
    expect(absent.err[0]).toMatch(/^tributary dlq replay: dead-letter topic "no-such-dlq-[0-9a-f]{8}" does not exist$/);
  });
});
