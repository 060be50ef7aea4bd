import { afterEach, describe, expect, it } from 'vitest';
import { AnalysisCompleted, AnalysisFailed } from '../../../pipelines/schemas/video.js';
import { createVideoAnalysisPipelines } from '../../../pipelines/videoAnalysis.js';
import type { DeadLetterReport } from '../../../pipelines/videoDlqProcessor.js';
import { createTestDriver, type TestDriver } from '../../../src/testing/index.js';
import { videoCreated } from '../../support/pipelines.js';

const drivers: TestDriver[] = [];
afterEach(async () => {
  for (const d of drivers.splice(0)) await d.close();
});

const partitions = Object.fromEntries(
  [
    'video.created',
    'video.transcript.requested',
    'video.embedding.requested',
    'video.similarity.requested',
    'video.analysis.completed',
    'video.analysis.failed',
    'video.dlq',
  ].map((t) => [t, 3]),
);

describe('the video analysis chain, all five pipelines in one driver', () => {
  it('completes good videos, reports business failures, dead-letters poison and the dlq-processor reports it', async () => {
    const reports: DeadLetterReport[] = [];
    const driver = createTestDriver(
      ({ scheduler }) =>
        createVideoAnalysisPipelines({
          scheduler,
          retry: { jitter: 'none', initialDelayMs: 1000 },
          maxDurationSeconds: 3600,
          onDeadLetter: (report) => {
            reports.push(report);
          },
        }).all,
      { partitions },
    );
    drivers.push(driver);
    const input = driver.inputTopic('video.created');
    input.pipeKeyValues([
      ['v1', videoCreated('v1')],
      ['v2', videoCreated('v2', { title: 'Kafka internals #flaky' })],
      ['v3', videoCreated('v3', { url: 'https://private.videos.example.com/v3' })],
      ['v4', videoCreated('v4', { durationSeconds: 7200 })],
      ['v5', videoCreated('v5', { title: 'Streams #outage-similarity' })],
      ['v6', '{"videoId": "v6", "eventType": "video.created"'],
      ['v7', { ...videoCreated('v7'), durationSeconds: 'long' }],
    ]);
    await driver.flush();

    const completed = driver.outputTopic('video.analysis.completed', { schema: AnalysisCompleted }).readRecords();
    expect(completed.map((r) => r.key).sort()).toEqual(['v1', 'v2']);
    const v2 = completed.find((r) => r.key === 'v2')?.value;
    // v2 failed once at each stage: 1 s of backoff per stage, all counted in the processing duration
    expect(v2?.processingDurationMs).toBe(3000);
    expect(completed.find((r) => r.key === 'v1')?.value.processingDurationMs).toBe(0);
    expect(completed.every((r) => r.headers['event-type'] === 'video.analysis.completed')).toBe(true);

    const failed = driver.outputTopic('video.analysis.failed', { schema: AnalysisFailed }).readValues();
    expect(failed.map((f) => [f.videoId, f.stage, f.retriable, f.attempts]).sort()).toEqual([
      ['v3', 'transcript', false, 1],
      ['v4', 'intake', false, 0],
      ['v5', 'similarity', true, 3],
    ]);

    const dead = driver.deadLetterTopic('video.dlq').allRecords();
    expect(dead.map((d) => d.key).sort()).toEqual(['v6', 'v7']);
    expect(reports.map((r) => [r.key, r.originalTopic, r.pipeline, r.stage]).sort()).toEqual([
      ['v6', 'video.created', 'video-intake', 'intake.parse'],
      ['v7', 'video.created', 'video-intake', 'intake.validate'],
    ]);
    expect(reports.find((r) => r.key === 'v7')?.reason).toContain('durationSeconds');
    expect(driver.deadLetterTopic('video.dlq.parked').isEmpty()).toBe(true);

    // every group committed everything it read
    const committed = driver.committedOffsets();
    expect(new Set(committed.map((c) => c.groupId))).toEqual(
      new Set(['video-intake', 'transcript-worker', 'embedding-worker', 'similarity-worker', 'dlq-processor']),
    );
    for (const c of committed) {
      const end = driver
        .outputTopic(c.topic, { decode: 'bytes' })
        .allRecords()
        .filter((r) => r.partition === c.partition).length;
      expect(c.offset, `${c.groupId} ${c.topic}/${c.partition}`).toBe(BigInt(end));
    }
    expect(driver.unfinished()).toEqual([]);
  });

  it('logs each dead letter as a warning by default, and parks what its handler cannot take', async () => {
    const driver = createTestDriver(
      ({ scheduler }) =>
        createVideoAnalysisPipelines({ scheduler, retry: { jitter: 'none', attempts: 2, initialDelayMs: 10 } }).all,
    );
    drivers.push(driver);
    driver.inputTopic('video.created').pipeKeyValues([['v1', 'garbage']]);
    await driver.flush();
    const warning = driver.logs.find((l) => l.pipeline === 'dlq-processor' && l.level === 'warn');
    expect(warning?.msg).toMatch(
      /^dead letter from video.created\/0@0 \(video-intake at intake.parse\): malformed JSON/,
    );
    expect(warning?.deadLetter).toMatchObject({ key: 'v1', valuePreview: 'garbage', errorCode: 'TRIBUTARY_ERR_PARSE' });

    const failing = createTestDriver(
      ({ scheduler }) =>
        createVideoAnalysisPipelines({
          scheduler,
          retry: { jitter: 'none', attempts: 2, initialDelayMs: 10 },
          onDeadLetter: () => {
            throw new Error('ticket system down');
          },
        }).all,
    );
    drivers.push(failing);
    failing.inputTopic('video.created').pipeKeyValues([['v1', 'garbage']]);
    await failing.flush();
    expect(failing.deadLetterTopic('video.dlq.parked').readDeadLetters()).toMatchObject([
      { key: 'v1', value: 'garbage', stage: 'dlq.handle', pipeline: 'dlq-processor', originalTopic: 'video.dlq' },
    ]);
  });
});
