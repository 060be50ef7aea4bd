import { firstValueFrom, timer } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { createEmbeddingWorker } from '../../../pipelines/embeddingWorker.js';
import { PermanentVideoError, TransientVideoError, type VideoRetryOptions } from '../../../pipelines/lib/video.js';
import {
  STAND_IN_EMBEDDING_MODEL,
  standInEmbed,
  standInTranscribe,
  type Transcribe,
} from '../../../pipelines/lib/videoStandIns.js';
import {
  AnalysisCompleted,
  AnalysisFailed,
  EmbeddingRequested,
  SimilarityRequested,
  type TranscriptRequested,
} from '../../../pipelines/schemas/video.js';
import { createSimilarityWorker } from '../../../pipelines/similarityWorker.js';
import { createTranscriptWorker } from '../../../pipelines/transcriptWorker.js';
import { createTestDriver, type TestDriver } from '../../../src/testing/index.js';
import { T0, transcriptRequested } from '../../support/pipelines.js';

const drivers: TestDriver[] = [];
afterEach(async () => {
  for (const d of drivers.splice(0)) await d.close();
});

const noJitter = { jitter: 'none' as const, initialDelayMs: 200, maxDelayMs: 5000 };
const transcript = { text: 'hello kafka', language: 'en', wordCount: 2, confidence: 0.9 };

function transcriptDriver(transcribe: Transcribe, retry: VideoRetryOptions = noJitter) {
  const driver = createTestDriver(({ scheduler }) => createTranscriptWorker({ transcribe, scheduler, retry }), {
    partitions: { 'video.transcript.requested': 2, 'video.embedding.requested': 2 },
  });
  drivers.push(driver);
  return driver;
}

describe('transcript-worker (video.transcript.requested → video.embedding.requested)', () => {
  it('calls transcribe and publishes the embedding request with the call time measured on the clock', async () => {
    const driver = createTestDriver(({ scheduler }) =>
      createTranscriptWorker({
        scheduler,
        transcribe: async () => {
          await firstValueFrom(timer(1500, scheduler)); // the service takes 1.5 s
          return transcript;
        },
      }),
    );
    drivers.push(driver);
    driver.inputTopic('video.transcript.requested').pipeKeyValues([['v1', transcriptRequested('v1')]]);
    await driver.advanceTime(1499);
    expect(driver.outputTopic('video.embedding.requested').isEmpty()).toBe(true);
    await driver.advanceTime(1);
    const [record] = driver.outputTopic('video.embedding.requested', { schema: EmbeddingRequested }).readRecords();
    expect(record?.key).toBe('v1');
    expect(record?.headers['event-type']).toBe('video.embedding.requested');
    expect(record?.value).toMatchObject({
      videoId: 'v1',
      causationId: 'transcript-v1',
      analysisStartedAt: T0,
      transcript,
      timings: { transcriptMs: 1500 },
      occurredAt: '2024-01-01T00:00:01.500Z',
    });
  });

  it('retries transient failures with exponential backoff on the driver clock (200 ms, then 400 ms)', async () => {
    const calls: number[] = [];
    let driverNow = () => 0;
    const driver = transcriptDriver(async (_request, { attempt }) => {
      calls.push(driverNow());
      if (attempt < 3) throw new TransientVideoError(`HTTP 503 (attempt ${attempt})`);
      return transcript;
    });
    driverNow = () => driver.now();
    const t0 = driver.now();
    driver.inputTopic('video.transcript.requested').pipeKeyValues([['v1', transcriptRequested('v1')]]);
    await driver.advanceTime(599);
    expect(calls).toEqual([t0, t0 + 200]);
    expect(driver.outputTopic('video.embedding.requested').isEmpty()).toBe(true);
    await driver.advanceTime(1);
    expect(calls).toEqual([t0, t0 + 200, t0 + 600]);
    expect(driver.outputTopic('video.embedding.requested').readValues()).toHaveLength(1);
    expect(driver.outputTopic('video.analysis.failed').isEmpty()).toBe(true);
    const retryLines = driver.logs.filter((l) => l.msg === 'retryWithBackoff: attempt failed; retrying');
    expect(retryLines.map((l) => [l.stage, l.attempt, l.delayMs])).toEqual([
      ['transcript.call', 1, 200],
      ['transcript.call', 2, 400],
    ]);
  });

  it('publishes video.analysis.failed (retriable) once the attempts run out, and commits the record', async () => {
    const driver = transcriptDriver(async () => {
      throw new TransientVideoError('speech service unavailable (HTTP 503)');
    });
    driver.inputTopic('video.transcript.requested').pipeKeyValues([['v1', transcriptRequested('v1')]]);
    await driver.advanceTime(600);
    const [record] = driver.outputTopic('video.analysis.failed', { schema: AnalysisFailed }).readRecords();
    expect(record?.key).toBe('v1');
    expect(record?.headers['event-type']).toBe('video.analysis.failed');
    expect(record?.value).toMatchObject({
      videoId: 'v1',
      causationId: 'transcript-v1',
      stage: 'transcript',
      retriable: true,
      attempts: 3,
      errorCode: 'TRIBUTARY_ERR_PROCESSING',
      error: 'failed after 3 attempts: speech service unavailable (HTTP 503)',
      analysisStartedAt: T0,
    });
    expect(driver.outputTopic('video.embedding.requested').isEmpty()).toBe(true);
    expect(driver.deadLetterTopic().isEmpty()).toBe(true);
    expect(driver.outcomes().map((o) => o.outcome)).toEqual(['published']);
    expect(driver.committedOffsets().map((c) => c.offset)).toEqual([1n]);
  });

  it('does not retry a permanent failure: video.analysis.failed with retriable = false after 1 attempt', async () => {
    let calls = 0;
    const driver = transcriptDriver(async () => {
      calls++;
      throw new PermanentVideoError('video is private (HTTP 404)');
    });
    driver.inputTopic('video.transcript.requested').pipeKeyValues([['v1', transcriptRequested('v1')]]);
    await driver.settle();
    expect(calls).toBe(1);
    expect(driver.outputTopic('video.analysis.failed', { schema: AnalysisFailed }).readValues()).toMatchObject([
      { stage: 'transcript', retriable: false, attempts: 1, error: expect.stringContaining('(not retriable)') },
    ]);
  });

  it('times a hanging call out after timeoutMs (virtual time) and reports it as retriable', async () => {
    const driver = transcriptDriver(() => new Promise<never>(() => {}), {
      ...noJitter,
      timeoutMs: 10_000,
      attempts: 2,
    });
    driver.inputTopic('video.transcript.requested').pipeKeyValues([['v1', transcriptRequested('v1')]]);
    await driver.advanceTime(20_199);
    expect(driver.outputTopic('video.analysis.failed').isEmpty()).toBe(true);
    await driver.advanceTime(1);
    expect(driver.outputTopic('video.analysis.failed', { schema: AnalysisFailed }).readValues()).toMatchObject([
      { stage: 'transcript', retriable: true, attempts: 2, errorCode: 'TRIBUTARY_ERR_TIMEOUT' },
    ]);
  });

  it('keeps one video in order while other videos go ahead (ordering: key)', async () => {
    const gates = new Map<string, () => void>();
    const started: string[] = [];
    const driver = createTestDriver(
      ({ scheduler }) =>
        createTranscriptWorker({
          scheduler,
          transcribe: (request: TranscriptRequested) =>
            new Promise((resolve) => {
              started.push(request.eventId);
              gates.set(request.eventId, () => resolve({ ...transcript, text: request.eventId }));
            }),
        }),
      { partitions: { 'video.transcript.requested': 1 } },
    );
    drivers.push(driver);
    driver.inputTopic('video.transcript.requested').pipeKeyValues([
      ['a', transcriptRequested('a', { eventId: 'a1' })],
      ['a', transcriptRequested('a', { eventId: 'a2' })],
      ['b', transcriptRequested('b', { eventId: 'b1' })],
    ]);
    await driver.settle();
    // same partition, different keys: b1 runs while a2 waits behind a1
    expect(started).toEqual(['a1', 'b1']);
    gates.get('b1')?.();
    await driver.settle();
    const out = driver.outputTopic('video.embedding.requested', { schema: EmbeddingRequested });
    expect(out.readValues().map((v) => v.transcript.text)).toEqual(['b1']);
    gates.get('a1')?.();
    await driver.settle();
    expect(started).toEqual(['a1', 'b1', 'a2']);
    gates.get('a2')?.();
    await driver.settle();
    expect(out.readValues().map((v) => v.transcript.text)).toEqual(['a1', 'a2']);
    expect(driver.committable('video.transcript.requested')).toEqual(new Map([[0, 3n]]));
  });

  it('dead-letters unreadable requests to video.dlq', async () => {
    const driver = transcriptDriver(async () => transcript);
    driver.inputTopic('video.transcript.requested').pipeRecords([
      { key: 'v1', value: 'not json' },
      { key: 'v2', value: { ...transcriptRequested('v2'), durationSeconds: -5 } },
      { key: 'v3', value: transcriptRequested('v3') },
    ]);
    await driver.settle();
    expect(
      driver
        .deadLetterTopic()
        .readDeadLetters()
        .map((d) => [d.key, d.stage, d.pipeline, d.originalConsumerGroup]),
    ).toEqual(
      expect.arrayContaining([
        ['v1', 'transcript.parse', 'transcript-worker', 'transcript-worker'],
        ['v2', 'transcript.validate', 'transcript-worker', 'transcript-worker'],
      ]),
    );
    expect(driver.outputTopic('video.embedding.requested').readValues()).toHaveLength(1);
  });

  it('the stand-in simulates the seed failures: #flaky once, private videos for good, #outage-transcript always', async () => {
    const driver = transcriptDriver(standInTranscribe());
    driver.inputTopic('video.transcript.requested').pipeKeyValues([
      ['ok', transcriptRequested('ok')],
      ['flaky', transcriptRequested('flaky', { title: 'Live #flaky demo' })],
      ['private', transcriptRequested('private', { url: 'https://private.videos.example.com/v' })],
      ['down', transcriptRequested('down', { title: 'Talk #outage-transcript' })],
    ]);
    await driver.advanceTime(10_000);
    const out = driver.outputTopic('video.embedding.requested', { schema: EmbeddingRequested }).readValues();
    expect(out.map((v) => v.videoId).sort()).toEqual(['flaky', 'ok']);
    expect(out.find((v) => v.videoId === 'ok')?.transcript).toMatchObject({ language: 'en', wordCount: 1440 });
    const failed = driver.outputTopic('video.analysis.failed', { schema: AnalysisFailed }).readValues();
    expect(failed.map((f) => [f.videoId, f.retriable, f.attempts]).sort()).toEqual([
      ['down', true, 3],
      ['private', false, 1],
    ]);
    // deterministic: the same request gives the same transcript
    const again = await standInTranscribe()(transcriptRequested('ok'), {
      attempt: 1,
      signal: new AbortController().signal,
    });
    expect(again).toEqual(out.find((v) => v.videoId === 'ok')?.transcript);
  });
});

describe('embedding-worker (video.embedding.requested → video.similarity.requested)', () => {
  it('embeds the transcript and carries the timings on', async () => {
    const driver = createTestDriver(({ scheduler }) => createEmbeddingWorker({ scheduler }));
    drivers.push(driver);
    const request: EmbeddingRequested = {
      ...transcriptRequested('v1'),
      eventId: 'embedding-v1',
      eventType: 'video.embedding.requested',
      transcript,
      timings: { transcriptMs: 1200 },
    };
    driver.inputTopic('video.embedding.requested').pipeKeyValues([['v1', request]]);
    await driver.settle();
    const [record] = driver.outputTopic('video.similarity.requested', { schema: SimilarityRequested }).readRecords();
    expect(record?.headers['event-type']).toBe('video.similarity.requested');
    expect(record?.value).toMatchObject({
      videoId: 'v1',
      causationId: 'embedding-v1',
      transcriptWordCount: 2,
      embedding: { model: STAND_IN_EMBEDDING_MODEL, dimensions: 16 },
      timings: { transcriptMs: 1200, embeddingMs: 0 },
    });
    const vector = record?.value.embedding.vector ?? [];
    expect(Math.hypot(...vector)).toBeCloseTo(1, 5);
    expect(await standInEmbed()(request, { attempt: 1, signal: new AbortController().signal })).toEqual(
      record?.value.embedding,
    );
  });

  it('reports a failing model as video.analysis.failed (stage embedding)', async () => {
    const driver = createTestDriver(({ scheduler }) =>
      createEmbeddingWorker({ scheduler, retry: { attempts: 2, jitter: 'none' } }),
    );
    drivers.push(driver);
    driver.inputTopic('video.embedding.requested').pipeKeyValues([
      [
        'v1',
        {
          ...transcriptRequested('v1', { title: 'Down #outage-embedding' }),
          eventType: 'video.embedding.requested',
          transcript,
          timings: { transcriptMs: 1 },
        },
      ],
    ]);
    await driver.advanceTime(200);
    expect(driver.outputTopic('video.analysis.failed', { schema: AnalysisFailed }).readValues()).toMatchObject([
      { stage: 'embedding', retriable: true, attempts: 2, error: expect.stringContaining('HTTP 503') },
    ]);
  });
});

describe('similarity-worker (video.similarity.requested → video.analysis.completed)', () => {
  const similarityRequest = (videoId: string, vector: number[]): SimilarityRequested => ({
    ...transcriptRequested(videoId),
    eventId: `similarity-${videoId}`,
    eventType: 'video.similarity.requested',
    transcriptWordCount: 10,
    embedding: { model: 'm', dimensions: vector.length, vector },
    timings: { transcriptMs: 100, embeddingMs: 20 },
  });

  it('completes the analysis with the similar videos and the whole processing duration', async () => {
    const driver = createTestDriver(({ scheduler }) => createSimilarityWorker({ scheduler }));
    drivers.push(driver);
    const input = driver.inputTopic('video.similarity.requested');
    input.pipeKeyValues([
      ['v1', similarityRequest('v1', [1, 0, 0])],
      ['v2', similarityRequest('v2', [0, 1, 0])],
    ]);
    await driver.advanceTime(90_000); // a minute and a half after the analysis started (T0)
    input.pipeKeyValues([['v3', similarityRequest('v3', [0.9, 0.1, 0])]]);
    await driver.settle();
    const out = driver.outputTopic('video.analysis.completed', { schema: AnalysisCompleted }).readRecords();
    expect(out.map((r) => r.headers['event-type'])).toEqual(Array(3).fill('video.analysis.completed'));
    const v3 = out[2]?.value;
    expect(v3).toMatchObject({
      videoId: 'v3',
      causationId: 'similarity-v3',
      transcriptWordCount: 10,
      embeddingModel: 'm',
      analysisStartedAt: T0,
      completedAt: '2024-01-01T00:01:30.000Z',
      processingDurationMs: 90_000,
      timings: { transcriptMs: 100, embeddingMs: 20, similarityMs: 0 },
    });
    expect(v3?.similar.map((s) => s.videoId)).toEqual(['v1', 'v2']);
    expect(v3?.similar[0]?.score).toBeGreaterThan(0.9);
    expect(out[0]?.value.similar).toEqual([]);
  });

  it('dead-letters an embedding whose vector does not match its dimensions', async () => {
    const driver = createTestDriver(({ scheduler }) => createSimilarityWorker({ scheduler }));
    drivers.push(driver);
    const bad = similarityRequest('v1', [1, 0]);
    driver
      .inputTopic('video.similarity.requested')
      .pipeKeyValues([['v1', { ...bad, embedding: { ...bad.embedding, dimensions: 3 } }]]);
    await driver.settle();
    expect(driver.deadLetterTopic().readDeadLetters()).toMatchObject([
      { stage: 'similarity.validate', exceptionMessage: expect.stringContaining('vector length') },
    ]);
  });
});
