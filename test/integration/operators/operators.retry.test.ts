/**
 * Blocking retries (retryWithBackoff) on the real broker: a transient failure that succeeds on attempt 3 is
 * published once, one that never succeeds is dead-lettered after exactly N attempts, and records of other partitions
 * are not held up while a record of one partition waits between attempts.
 */
import { tap } from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  branchToDeadLetter,
  DEAD_LETTER_HEADERS,
  definePipeline,
  parseJson,
  publish,
  readIntegerHeader,
  retryWithBackoff,
} from '../../../src/index.js';
import { eventually, testEngine } from '../../support/engine.js';
import { collect, committedOffsets, createTopic, produce, testAdmin, uniqueName } from '../../support/kafka.js';

interface Job {
  id: string;
}

describe('retryWithBackoff on the broker', () => {
  it('publishes a transient failure once (attempt 3), dead-letters a hopeless one after exactly 4 attempts, and keeps other partitions flowing', async () => {
    const input = await createTopic('retry-in', 3);
    const output = await createTopic('retry-out', 3);
    const dlq = await createTopic('retry-dlq', 1);
    const ATTEMPTS = 4;
    // partition 0 starts with the two troublesome records; every partition has 100 ordinary ones
    const records = [
      { partition: 0, key: 'trouble', value: JSON.stringify({ id: 'transient' }) },
      { partition: 0, key: 'trouble', value: JSON.stringify({ id: 'hopeless' }) },
      ...Array.from({ length: 300 }, (_, i) => ({
        partition: i % 3,
        key: `k${i}`,
        value: JSON.stringify({ id: `job-${i}` }),
      })),
    ];
    await produce(input, records);

    const calls = new Map<string, number[]>();
    const published = new Map<string, { at: number; partition: number }>();
    let hopelessGaveUpAt = Number.NaN;
    const groupId = uniqueName('retry-group');
    const out = await collect(output);
    const dead = await collect(dlq);
    const engine = testEngine({
      pipelines: [
        definePipeline({
          name: uniqueName('retrying'),
          source: { topics: [input], groupId },
          deadLetter: { topic: dlq },
          ordering: 'partition',
          build: (stream) =>
            stream.pipe(
              parseJson<Job>(),
              retryWithBackoff(
                async (job: Job, _el, { attempt }) => {
                  calls.set(job.id, [...(calls.get(job.id) ?? []), performance.now()]);
                  if (job.id === 'transient' && attempt < 3) throw new Error(`transient failure ${attempt}`);
                  if (job.id === 'hopeless') {
                    if (attempt === ATTEMPTS) hopelessGaveUpAt = performance.now();
                    throw new Error(`hopeless failure ${attempt}`);
                  }
                  return job;
                },
                { name: 'jobs.call', attempts: ATTEMPTS, initialDelayMs: 400, maxDelayMs: 2000, jitter: 'none' },
              ),
              branchToDeadLetter(),
              publish(output),
              tap((el) => {
                if (el.ok) published.set(el.value.id, { at: performance.now(), partition: el.origin.partition });
              }),
            ),
        }),
      ],
    });
    const started = performance.now();
    await engine.start();
    await out.waitFor(301, 60_000);
    await dead.waitFor(1, 30_000);
    await new Promise((done) => setTimeout(done, 1000)); // room for a duplicate to show up

    // the transient record: three calls, published once
    expect(calls.get('transient')).toHaveLength(3);
    expect(out.records.filter((r) => r.value?.includes('"transient"'))).toHaveLength(1);
    expect(out.records).toHaveLength(301);

    // the hopeless record: exactly ATTEMPTS calls, dead-lettered once with the count and the last error
    expect(calls.get('hopeless')).toHaveLength(ATTEMPTS);
    expect(dead.records).toHaveLength(1);
    const [letter] = dead.records;
    expect(letter?.value).toBe(JSON.stringify({ id: 'hopeless' }));
    expect(letter?.headers[DEAD_LETTER_HEADERS.attempts]).toBe(String(ATTEMPTS));
    expect(letter?.headers[DEAD_LETTER_HEADERS.stage]).toBe('jobs.call');
    expect(letter?.headers[DEAD_LETTER_HEADERS.errorCode]).toBe('TRIBUTARY_ERR_PROCESSING');
    expect(letter?.headers[DEAD_LETTER_HEADERS.exceptionMessage]).toBe('failed after 4 attempts: hopeless failure 4');
    expect(readIntegerHeader(letter?.rawHeaders[DEAD_LETTER_HEADERS.originalOffset])).toBe(1n);

    // waits between attempts: 400, 800 (transient: 1.2 s), then 400 + 800 + 1600 for hopeless (2.8 s)
    const transientAt = published.get('transient')?.at ?? Number.NaN;
    const [firstTransient = 0] = calls.get('transient') ?? [];
    const [firstHopeless = 0] = calls.get('hopeless') ?? [];
    // Node's timers have millisecond granularity and may fire up to ~1 ms early by performance.now(): allow 1 ms
    // per wait (a run measured 2799.67 ms for the nominal 2800)
    expect(transientAt - firstTransient).toBeGreaterThanOrEqual(1200 - 2);
    expect(hopelessGaveUpAt - firstHopeless).toBeGreaterThanOrEqual(2800 - 3);

    // other partitions were not held up: all 200 of their records were published before the transient record
    // finished its first wait; partition 0's own records waited behind it (ordering: 'partition')
    const others = [...published.values()].filter((p) => p.partition !== 0).map((p) => p.at);
    expect(others).toHaveLength(200);
    expect(Math.max(...others)).toBeLessThan(transientAt);
    expect(Math.max(...others)).toBeLessThan(firstTransient + 400);
    const sameLane = [...published]
      .filter(([id, p]) => p.partition === 0 && id.startsWith('job-'))
      .map(([, p]) => p.at);
    expect(sameLane).toHaveLength(100);
    expect(Math.min(...sameLane)).toBeGreaterThan(hopelessGaveUpAt);

    const ends = await (await testAdmin()).fetchTopicOffsets(input);
    await eventually(async () => {
      const committed = await committedOffsets(groupId, input);
      return ends.every((end) => committed.get(end.partition) === BigInt(end.high));
    }, 'commits at the end of every partition');
    console.error(
      `[operators.retry] other partitions done ${Math.round(Math.max(...others) - started)} ms after start; ` +
        `transient published after ${Math.round(transientAt - firstTransient)} ms of retrying, ` +
        `hopeless gave up after ${Math.round(hopelessGaveUpAt - firstHopeless)} ms`,
    );
    await engine.stop();
  });
});
