import { afterEach, describe, expect, it } from 'vitest';
import { deriveEventId } from '../../../pipelines/lib/eventIds.js';
import { AnalysisFailed, TranscriptRequested, VIDEO_EVENT_TYPES } from '../../../pipelines/schemas/video.js';
import { createVideoIntake } from '../../../pipelines/videoIntake.js';
import { createTestDriver, type TestDriver } from '../../../src/testing/index.js';
import { videoCreated } from '../../support/pipelines.js';

const drivers: TestDriver[] = [];
afterEach(async () => {
  for (const d of drivers.splice(0)) await d.close();
});

function intakeDriver(maxDurationSeconds?: number) {
  const driver = createTestDriver(
    ({ scheduler }) =>
      createVideoIntake({ scheduler, ...(maxDurationSeconds === undefined ? {} : { maxDurationSeconds }) }),
    { partitions: { 'video.created': 3, 'video.transcript.requested': 3 } },
  );
  drivers.push(driver);
  return driver;
}

describe('video-intake (video.created → video.transcript.requested)', () => {
  it('requests a transcript keyed by video id, with its event-type header, a derived id and the start time', async () => {
    const driver = intakeDriver();
    const { language: _omitted, ...withoutLanguage } = videoCreated('v1');
    driver.inputTopic('video.created').pipeInput({
      key: 'v1',
      value: withoutLanguage,
      headers: { 'correlation-id': 'req-42' },
    });
    await driver.settle();
    const [record] = driver.outputTopic('video.transcript.requested', { schema: TranscriptRequested }).readRecords();
    expect(record?.key).toBe('v1');
    expect(record?.headers).toEqual({ 'event-type': 'video.transcript.requested', 'correlation-id': 'req-42' });
    expect(record?.value).toEqual({
      eventId: deriveEventId('created-v1', VIDEO_EVENT_TYPES.transcriptRequested),
      eventType: 'video.transcript.requested',
      videoId: 'v1',
      occurredAt: new Date(driver.now()).toISOString(),
      causationId: 'created-v1',
      analysisStartedAt: new Date(driver.now()).toISOString(),
      title: 'How Kafka partitions work (v1)',
      url: 'https://videos.example.com/watch?v=v1',
      language: 'en', // the schema's default
      durationSeconds: 600,
    });
    expect(driver.committable('video.created')).toEqual(new Map([[record?.partition ?? -1, 1n]]));
  });

  it('derives the same event id when Kafka delivers the same video.created again', async () => {
    const driver = intakeDriver();
    driver.inputTopic('video.created').pipeKeyValues([
      ['v1', videoCreated('v1')],
      ['v1', videoCreated('v1')],
    ]);
    await driver.settle();
    const [a, b] = driver.outputTopic('video.transcript.requested', { schema: TranscriptRequested }).readValues();
    expect(a?.eventId).toBe(b?.eventId);
  });

  it('dead-letters what it cannot read to video.dlq, with the reason in the headers', async () => {
    const driver = intakeDriver();
    const input = driver.inputTopic('video.created');
    input.pipeInput({ key: 'v1', value: '{"eventId": "x", ' });
    input.pipeInput({ key: 'v2', value: { ...videoCreated('v2'), url: 'not a url' } });
    input.pipeInput({ key: 'v3', value: { ...videoCreated('v3'), eventType: 'video.deleted' } });
    input.pipeInput({ key: 'v4', value: null });
    input.pipeInput({ key: 'v5', value: Buffer.from([0xc3, 0x28]) });
    input.pipeInput({ key: 'v6', value: videoCreated('v6') });
    await driver.settle();
    const dead = driver.deadLetterTopic().readDeadLetters();
    expect(dead.map((d) => [d.key, d.stage, d.errorCode])).toEqual(
      expect.arrayContaining([
        ['v1', 'intake.parse', 'TRIBUTARY_ERR_PARSE'],
        ['v2', 'intake.validate', 'TRIBUTARY_ERR_VALIDATION'],
        ['v3', 'intake.validate', 'TRIBUTARY_ERR_VALIDATION'],
        ['v4', 'intake.parse', 'TRIBUTARY_ERR_PARSE'],
        ['v5', 'intake.parse', 'TRIBUTARY_ERR_PARSE'],
      ]),
    );
    expect(dead).toHaveLength(5);
    expect(dead.find((d) => d.key === 'v2')?.exceptionMessage).toContain('url');
    expect(dead.find((d) => d.key === 'v3')?.exceptionMessage).toContain('eventType');
    expect(dead.find((d) => d.key === 'v5')?.rawValue).toEqual(Buffer.from([0xc3, 0x28])); // the original bytes
    expect(dead.every((d) => d.originalTopic === 'video.created' && d.originalConsumerGroup === 'video-intake')).toBe(
      true,
    );
    expect(driver.outputTopic('video.transcript.requested').readValues()).toHaveLength(1);
    expect(driver.outputTopic('video.analysis.failed').isEmpty()).toBe(true);
    // every record finished: the group commits to the end of each partition
    const ends = new Map<number, bigint>();
    for (const r of driver.outputTopic('video.created', { decode: 'bytes' }).allRecords()) {
      ends.set(r.partition, r.offset + 1n);
    }
    expect(driver.committable('video.created')).toEqual(new Map([...ends].sort(([a], [b]) => a - b)));
  });

  it('refuses videos that are too long with video.analysis.failed (stage intake, not retriable)', async () => {
    const driver = intakeDriver(3600);
    driver.inputTopic('video.created').pipeKeyValues([['v9', videoCreated('v9', { durationSeconds: 3601 })]]);
    await driver.settle();
    const [record] = driver.outputTopic('video.analysis.failed', { schema: AnalysisFailed }).readRecords();
    expect(record?.key).toBe('v9');
    expect(record?.headers['event-type']).toBe('video.analysis.failed');
    expect(record?.value).toMatchObject({
      eventType: 'video.analysis.failed',
      videoId: 'v9',
      causationId: 'created-v9',
      stage: 'intake',
      retriable: false,
      attempts: 0,
      errorCode: 'TRIBUTARY_ERR_PROCESSING',
      error: 'video is 3601 s long; at most 3600 s are analysed',
    });
    expect(driver.outputTopic('video.transcript.requested').isEmpty()).toBe(true);
    expect(driver.deadLetterTopic().isEmpty()).toBe(true);
    expect(driver.outcomes().map((o) => o.outcome)).toEqual(['published']);
  });
});
