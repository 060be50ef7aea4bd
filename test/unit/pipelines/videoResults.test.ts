import { firstValueFrom, type SchedulerLike, timer } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import type { ApplyResult, VideoStore } from '../../../pipelines/lib/videoResultsStore.js';
import type { VideoUpdate } from '../../../pipelines/schemas/videoResults.js';
import {
  createVideoResultsPipeline,
  publishTranscribeRequest,
  transcribeRequestRecord,
  type VideoResultsOptions,
} from '../../../pipelines/videoResults.js';
import type { OutgoingRecord } from '../../../src/index.js';
import { createTestDriver, type TestDriver } from '../../../src/testing/index.js';

const TRANSCRIBE = 'Transcribe';
const TRANSCRIPTS = 'update_transcribe';
const COMPRESSIONS = 'finish_compress';
const DLQ = 'video-results.dlq';

/** A store that records what it is asked to apply, and fails when told to. */
function fakeStore(
  options: { latencyMs?: number; scheduler?: SchedulerLike; clock?: { scheduler?: SchedulerLike } } = {},
) {
  const now = () => (options.scheduler ?? options.clock?.scheduler)?.now() ?? 0;
  const applied: { update: VideoUpdate; at: number }[] = [];
  const calls: { videoId: string; at: number }[] = [];
  const failures: unknown[] = [];
  let failAlways: unknown;
  const store: VideoStore & { failNext(...errors: unknown[]): void; failAlways(error: unknown): void } = {
    failNext: (...errors) => failures.push(...errors),
    failAlways: (error) => {
      failAlways = error;
    },
    async apply(update): Promise<ApplyResult> {
      calls.push({ videoId: update.videoId, at: now() });
      if (options.latencyMs && options.scheduler) await firstValueFrom(timer(options.latencyMs, options.scheduler));
      if (failAlways !== undefined) throw failAlways;
      const failure = failures.shift();
      if (failure !== undefined) throw failure;
      applied.push({ update, at: now() });
      return 'inserted';
    },
  };
  return { store, applied, calls };
}

const drivers: TestDriver[] = [];
afterEach(async () => {
  for (const d of drivers.splice(0)) await d.close();
});

function resultsDriver(
  store: VideoStore,
  options: Partial<VideoResultsOptions> = {},
  clock?: { scheduler?: SchedulerLike },
) {
  const driver = createTestDriver(({ scheduler }) => {
    if (clock) clock.scheduler = scheduler;
    return createVideoResultsPipeline({ store, scheduler, retry: { jitter: 'none' }, ...options });
  });
  drivers.push(driver);
  return driver;
}

const dbError = (code: string, message = `db error ${code}`) => Object.assign(new Error(message), { code });

describe('video-results (Transcribe, update_transcribe, finish_compress → videos)', () => {
  it('applies requests, transcripts in both seed shapes and compressions, stamped with the record time', async () => {
    const { store, applied } = fakeStore();
    const driver = resultsDriver(store);
    const t = Date.parse('2024-05-01T10:00:00Z');
    driver.inputTopic(TRANSCRIBE).pipeInput({
      key: 'v1',
      value: {
        video_id: 'v1',
        video_url: 'https://cdn.example.com/v1.mp4',
        metadata: { title: 'Intro', courseId: 'c1' },
      },
      timestamp: t,
    });
    driver.inputTopic(TRANSCRIPTS).pipeInput({
      key: 'v1',
      value: {
        video_id: 'v1',
        transcription: {
          duration: 2.5,
          language: 'en',
          words: [
            { text: 'hello', start: 0, end: 0.5 },
            { text: 'world', start: 0.6, end: 1.1 },
          ],
        },
      },
      timestamp: t + 1,
    });
    driver.inputTopic(TRANSCRIPTS).pipeInput({
      key: null,
      value: {
        videoId: 'v2',
        duration: 120.5,
        language: 'sw',
        words: [{ word: 'habari', start: 0, end: 0.4, confidence: 0.98 }],
        fullText: 'Habari.',
      },
      timestamp: t + 2,
    });
    driver
      .inputTopic(COMPRESSIONS)
      .pipeInput({ key: 'v1', value: 'https://cdn.example.com/v1-small.mp4', timestamp: t + 3 });
    await driver.settle();

    // the engine keeps order within a partition, not across topics: by record time
    const byTime = [...applied].sort((x, y) => (x.update.at?.getTime() ?? 0) - (y.update.at?.getTime() ?? 0));
    expect(byTime.map((a) => a.update)).toEqual([
      {
        kind: 'request',
        videoId: 'v1',
        videoUrl: 'https://cdn.example.com/v1.mp4',
        metadata: { title: 'Intro', courseId: 'c1' },
        at: new Date(t),
      },
      {
        kind: 'transcript',
        videoId: 'v1',
        language: 'en',
        durationSeconds: 2.5,
        words: [
          { text: 'hello', start: 0, end: 0.5 },
          { text: 'world', start: 0.6, end: 1.1 },
        ],
        text: 'hello world',
        at: new Date(t + 1),
      },
      {
        kind: 'transcript',
        videoId: 'v2',
        language: 'sw',
        durationSeconds: 120.5,
        words: [{ text: 'habari', start: 0, end: 0.4, confidence: 0.98 }],
        text: 'Habari.',
        at: new Date(t + 2),
      },
      { kind: 'compressed', videoId: 'v1', compressedUrl: 'https://cdn.example.com/v1-small.mp4', at: new Date(t + 3) },
    ]);
    expect(driver.outcomes().map((o) => o.outcome)).toEqual(['sunk', 'sunk', 'sunk', 'sunk']);
    expect(driver.deadLetterTopic(DLQ).isEmpty()).toBe(true);
    expect(
      driver
        .committedOffsets()
        .map((c) => `${c.topic}:${c.offset}`)
        .sort(),
    ).toEqual(['Transcribe:1', 'finish_compress:1', 'update_transcribe:2']);
  });

  it('reads finish_compress values as text, a JSON string or a JSON object, the key being the video id', async () => {
    const { store, applied } = fakeStore();
    const driver = resultsDriver(store);
    const input = driver.inputTopic(COMPRESSIONS);
    input.pipeInput({ key: 'a', value: '  https://cdn.example.com/a.mp4\n' });
    input.pipeInput({ key: 'b', value: '"https://cdn.example.com/b.mp4"' });
    input.pipeInput({ key: 'c', value: { videoId: 'c', cloudUrl: 'https://cdn.example.com/c.mp4' } });
    input.pipeInput({ key: null, value: { video_id: 'd', compressed_url: 'https://cdn.example.com/d.mp4' } });
    input.pipeInput({ key: 'e', value: { url: 'https://cdn.example.com/e.mp4' } });
    await driver.settle();
    expect(
      applied.map((a) => `${a.update.videoId} ${a.update.kind === 'compressed' ? a.update.compressedUrl : ''}`),
    ).toEqual([
      'a https://cdn.example.com/a.mp4',
      'b https://cdn.example.com/b.mp4',
      'c https://cdn.example.com/c.mp4',
      'd https://cdn.example.com/d.mp4',
      'e https://cdn.example.com/e.mp4',
    ]);
  });

  it('dead-letters results it cannot read, with the stage and the reason, and commits past them', async () => {
    const { store, applied } = fakeStore();
    const driver = resultsDriver(store);
    const compress = driver.inputTopic(COMPRESSIONS);
    compress.pipeInput({ key: 'k1', value: 'ftp://files.example.com/a.mp4' });
    compress.pipeInput({ key: null, value: 'https://cdn.example.com/no-key.mp4' });
    compress.pipeInput({ key: 'k3', value: { videoId: 'other', cloudUrl: 'https://cdn.example.com/x.mp4' } });
    compress.pipeInput({ key: 'k4', value: '{"videoId": "k4", "cloudUrl": ' });
    compress.pipeInput({ key: 'k5', value: null });
    compress.pipeInput({ key: 'k6', value: Buffer.from([0x68, 0x74, 0xff]) });
    const transcripts = driver.inputTopic(TRANSCRIPTS);
    transcripts.pipeInput({ key: 't1', value: '{"video_id": "t1", "transcription": ' });
    transcripts.pipeInput({
      key: 't2',
      value: {
        video_id: 't2',
        transcription: { duration: 1, language: 'en', words: [{ text: 'x', start: 2, end: 1 }] },
      },
    });
    transcripts.pipeInput({ key: 't3', value: { duration: 1, language: 'en', words: [] } });
    driver.inputTopic(TRANSCRIBE).pipeInput({ key: 'r1', value: { video_id: 'r1', video_url: 'not a url' } });
    await driver.settle();

    // the engine keeps order within a partition, not across topics: by original topic, then offset
    const dead = driver
      .deadLetterTopic(DLQ)
      .readDeadLetters()
      .sort((x, y) =>
        x.originalTopic === y.originalTopic
          ? Number(x.originalOffset) - Number(y.originalOffset)
          : String(x.originalTopic) < String(y.originalTopic)
            ? -1
            : 1,
      );
    const byKey = new Map(dead.map((d) => [d.key ?? '(none)', d]));
    expect(dead.map((d) => [d.key, d.stage, d.errorCode])).toEqual([
      ['r1', 'videoResults.request.validate', 'TRIBUTARY_ERR_VALIDATION'],
      ['k1', 'videoResults.compressed.validate', 'TRIBUTARY_ERR_VALIDATION'],
      [null, 'videoResults.compressed.validate', 'TRIBUTARY_ERR_VALIDATION'],
      ['k3', 'videoResults.compressed.validate', 'TRIBUTARY_ERR_VALIDATION'],
      ['k4', 'videoResults.compressed.parse', 'TRIBUTARY_ERR_PARSE'],
      ['k5', 'videoResults.compressed.parse', 'TRIBUTARY_ERR_PARSE'],
      ['k6', 'videoResults.compressed.parse', 'TRIBUTARY_ERR_PARSE'],
      ['t1', 'videoResults.transcript.parse', 'TRIBUTARY_ERR_PARSE'],
      ['t2', 'videoResults.transcript.validate', 'TRIBUTARY_ERR_VALIDATION'],
      ['t3', 'videoResults.transcript.validate', 'TRIBUTARY_ERR_VALIDATION'],
    ]);
    expect(byKey.get('(none)')?.exceptionMessage).toContain(
      'no video id: the record has no key and the value names none',
    );
    expect(byKey.get('k3')?.exceptionMessage).toContain(`the key "k3" and the value's video id "other" differ`);
    expect(byKey.get('k4')?.exceptionMessage).toContain('malformed JSON');
    expect(byKey.get('k5')?.exceptionMessage).toContain('tombstone');
    expect(byKey.get('t2')?.exceptionMessage).toContain('a word cannot end before it starts');
    expect(byKey.get('r1')?.exceptionMessage).toContain('video_url');
    expect(dead.every((d) => d.pipeline === 'video-results' && d.originalConsumerGroup === 'video-results')).toBe(true);
    expect(applied).toEqual([]);
    expect(
      driver
        .committedOffsets()
        .map((c) => `${c.topic}:${c.offset}`)
        .sort(),
    ).toEqual(['Transcribe:1', 'finish_compress:6', 'update_transcribe:3']);
  });

  it('retries database errors that may pass with backoff on the clock, and dead-letters the rest', async () => {
    const clock: { scheduler?: SchedulerLike } = {};
    const { store, applied, calls } = fakeStore({ clock });
    const driver = resultsDriver(store, {}, clock);
    const start = driver.now();
    store.failNext(dbError('08006', 'connection failure'), dbError('40P01', 'deadlock detected'));
    const input = driver.inputTopic(COMPRESSIONS);
    input.pipeInput({ key: 'v1', value: 'https://cdn.example.com/v1.mp4' });
    await driver.settle();
    expect(applied).toEqual([]);
    await driver.advanceTime(200);
    expect(applied).toEqual([]);
    await driver.advanceTime(400); // 200 ms, then 400 ms (jitter: none)
    expect(applied.map((a) => a.update.videoId)).toEqual(['v1']);
    expect(driver.committable(COMPRESSIONS)).toEqual(new Map([[0, 1n]]));

    // a value PostgreSQL refuses: the same every time, so one attempt
    store.failNext(dbError('22P05', 'unsupported Unicode escape sequence'));
    input.pipeInput({ key: 'v2', value: 'https://cdn.example.com/v2.mp4' });
    await driver.settle();
    const [bad] = driver.deadLetterTopic(DLQ).readDeadLetters();
    expect(bad).toMatchObject({ key: 'v2', stage: 'videoResults.apply', attempts: 1 });
    expect(bad?.exceptionMessage).toContain('unsupported Unicode escape sequence');

    // the database stays down: 5 attempts (0, 200, 600, 1400, 3000 ms), then the dead-letter topic
    calls.length = 0;
    store.failAlways(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }));
    const t = driver.now();
    input.pipeInput({ key: 'v3', value: 'https://cdn.example.com/v3.mp4' });
    await driver.flush();
    expect(calls.map((c) => c.at - t)).toEqual([0, 200, 600, 1400, 3000]);
    const [down] = driver.deadLetterTopic(DLQ).readDeadLetters();
    expect(down).toMatchObject({
      key: 'v3',
      stage: 'videoResults.apply',
      attempts: 5,
      errorCode: 'TRIBUTARY_ERR_PROCESSING',
    });
    expect(down?.exceptionMessage).toBe('failed after 5 attempts: connect ECONNREFUSED 127.0.0.1:5432');
    expect(driver.committable(COMPRESSIONS)).toEqual(new Map([[0, 3n]]));
    expect(start).toBeLessThan(t);
  });

  it("keeps one video's results in order while other videos go ahead", async () => {
    let fake: ReturnType<typeof fakeStore> | undefined;
    const driver = createTestDriver(({ scheduler }) => {
      fake = fakeStore({ latencyMs: 100, scheduler });
      return createVideoResultsPipeline({ store: fake.store, scheduler });
    });
    drivers.push(driver);
    const input = driver.inputTopic(COMPRESSIONS);
    input.pipeInput({ key: 'v1', value: 'https://cdn.example.com/v1-a.mp4' });
    input.pipeInput({ key: 'v1', value: 'https://cdn.example.com/v1-b.mp4' });
    input.pipeInput({ key: 'v2', value: 'https://cdn.example.com/v2.mp4' });
    await driver.advanceTime(100);
    // v1's first and v2 ran together; v1's second waits for v1's first
    expect(fake?.applied.map((a) => a.update.kind === 'compressed' && a.update.compressedUrl).sort()).toEqual([
      'https://cdn.example.com/v1-a.mp4',
      'https://cdn.example.com/v2.mp4',
    ]);
    await driver.advanceTime(100);
    expect(fake?.applied.map((a) => a.update.kind === 'compressed' && a.update.compressedUrl)).toContain(
      'https://cdn.example.com/v1-b.mp4',
    );
    expect(fake?.calls.map((c) => `${c.videoId}@${c.at - (fake?.calls[0]?.at ?? 0)}`)).toEqual([
      'v1@0',
      'v2@0',
      'v1@100',
    ]);
  });

  it('turns a re-delivered record into the same update (what makes the UPSERT a no-op)', async () => {
    const { store, applied } = fakeStore();
    const driver = resultsDriver(store);
    const record = {
      key: 'v9',
      value: { videoId: 'v9', duration: 3, language: 'en', words: [] },
      timestamp: 1_700_000_000_000,
    };
    driver.inputTopic(TRANSCRIPTS).pipeInput(record);
    driver.inputTopic(TRANSCRIPTS).pipeInput(record);
    await driver.settle();
    expect(applied).toHaveLength(2);
    expect(applied[0]?.update).toEqual(applied[1]?.update);
    expect(applied[0]?.update.at).toEqual(new Date(1_700_000_000_000));
  });

  it('reads Transcribe only when asked to record requests', () => {
    const { store } = fakeStore();
    expect(createVideoResultsPipeline({ store }).source.topics).toEqual([TRANSCRIPTS, COMPRESSIONS, TRANSCRIBE]);
    expect(createVideoResultsPipeline({ store, recordRequests: false }).source.topics).toEqual([
      TRANSCRIPTS,
      COMPRESSIONS,
    ]);
    const custom = createVideoResultsPipeline({
      store,
      name: 'results-eu',
      groupId: 'results-eu',
      topics: { transcripts: 'eu.update_transcribe', deadLetter: 'eu.dlq' },
    });
    expect(custom).toMatchObject({
      name: 'results-eu',
      source: { groupId: 'results-eu', topics: ['eu.update_transcribe', COMPRESSIONS, TRANSCRIBE] },
      deadLetter: { topic: 'eu.dlq' },
      ordering: 'key',
    });
  });
});

describe('publishTranscribeRequest (the producer side)', () => {
  it('publishes the checked request to Transcribe, keyed by video id', async () => {
    const sent: OutgoingRecord[] = [];
    const sender = { send: async (records: readonly OutgoingRecord[]) => void sent.push(...records) };
    const record = await publishTranscribeRequest(
      sender,
      {
        video_id: 'v1',
        video_url: 'https://cdn.example.com/v1.mp4',
        metadata: { title: 'Intro', courseId: 'c1', userId: 'u1' },
      },
      { correlationId: 'req-1' },
    );
    expect(sent).toEqual([record]);
    expect(record).toEqual({
      topic: 'Transcribe',
      key: 'v1',
      value: JSON.stringify({
        video_id: 'v1',
        video_url: 'https://cdn.example.com/v1.mp4',
        metadata: { title: 'Intro', courseId: 'c1', userId: 'u1' },
      }),
      headers: { 'event-type': 'transcribe.requested', 'correlation-id': 'req-1' },
    });
    expect(
      transcribeRequestRecord({ video_id: 'v2', video_url: 'http://x.example.com/v.mp4' }, { topic: 'T2' }),
    ).toMatchObject({
      topic: 'T2',
      key: 'v2',
    });
  });

  it('refuses an invalid request with the issues, and sends nothing', async () => {
    const sent: OutgoingRecord[] = [];
    const sender = { send: async (records: readonly OutgoingRecord[]) => void sent.push(...records) };
    await expect(
      publishTranscribeRequest(sender, { video_id: '', video_url: 'file:///etc/passwd' }),
    ).rejects.toMatchObject({
      code: 'TRIBUTARY_ERR_VALIDATION',
      message: expect.stringMatching(/^invalid transcription request: video_id: .*; video_url: /),
      details: [expect.objectContaining({ path: ['video_id'] }), expect.objectContaining({ path: ['video_url'] })],
    });
    expect(sent).toEqual([]);
  });
});
