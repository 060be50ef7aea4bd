/**
 * The video analysis chain (five pipelines, one engine) on the real broker: a realistic mix of videos, flaky and
 * failing services, poison and duplicates goes in; completed and failed events, dead letters, the dlq-processor's
 * reports and every group's committed offsets are checked.
 */
import { describe, expect, it } from 'vitest';
import type { VideoTopics } from '../../../pipelines/lib/video.js';
import { AnalysisCompleted, AnalysisFailed } from '../../../pipelines/schemas/video.js';
import { createVideoAnalysisPipelines } from '../../../pipelines/videoAnalysis.js';
import type { DeadLetterReport } from '../../../pipelines/videoDlqProcessor.js';
import { eventually, testEngine } from '../../support/engine.js';
import {
  collect,
  committedOffsets,
  createTopic,
  produce,
  type TestRecord,
  testAdmin,
  uniqueName,
} from '../../support/kafka.js';
import { videoCreated } from '../../support/pipelines.js';

describe('video analysis pipelines on the broker', () => {
  it('runs the chain end to end: completed, failed, dead-lettered, reported and committed', async () => {
    const topics: VideoTopics = {
      created: await createTopic('video.created', 3),
      transcriptRequested: await createTopic('video.transcript.requested', 3),
      embeddingRequested: await createTopic('video.embedding.requested', 3),
      similarityRequested: await createTopic('video.similarity.requested', 3),
      completed: await createTopic('video.analysis.completed', 3),
      failed: await createTopic('video.analysis.failed', 3),
      dlq: await createTopic('video.dlq', 1),
      dlqParked: await createTopic('video.dlq.parked', 1),
    };
    const groupPrefix = `${uniqueName('vt')}-`;
    const reports: DeadLetterReport[] = [];
    const chain = createVideoAnalysisPipelines({
      topics,
      groupPrefix,
      retry: { jitter: 'none', initialDelayMs: 20, maxDelayMs: 100 },
      maxDurationSeconds: 3600,
      onDeadLetter: (report) => {
        reports.push(report);
      },
    });

    const records: TestRecord[] = [];
    const add = (videoId: string, value: unknown) =>
      records.push({
        key: videoId,
        value: typeof value === 'string' ? value : JSON.stringify(value),
        headers: { 'correlation-id': `corr-${videoId}`, 'event-type': 'video.created' },
      });
    for (let i = 0; i < 30; i++) add(`ok-${i}`, videoCreated(`ok-${i}`, { durationSeconds: 60 + i * 10 }));
    for (let i = 0; i < 3; i++) add(`flaky-${i}`, videoCreated(`flaky-${i}`, { title: `Live coding #flaky ${i}` }));
    for (let i = 0; i < 2; i++) {
      add(`private-${i}`, videoCreated(`private-${i}`, { url: `https://private.videos.example.com/${i}` }));
    }
    for (let i = 0; i < 2; i++) add(`long-${i}`, videoCreated(`long-${i}`, { durationSeconds: 7200 }));
    add('down-0', videoCreated('down-0', { title: 'Keynote #outage-similarity' }));
    // poison: malformed JSON, schema violations, a tombstone
    add('bad-0', '{"eventId": "x", "videoId": ');
    add('bad-1', '<html>502 Bad Gateway</html>');
    add('bad-2', { ...videoCreated('bad-2'), durationSeconds: -1 });
    add('bad-3', { ...videoCreated('bad-3'), eventType: 'video.updated' });
    records.push({ key: 'bad-4', value: null });
    // duplicates: the producer retried five of the videos
    for (let i = 0; i < 5; i++) add(`ok-${i}`, videoCreated(`ok-${i}`, { durationSeconds: 60 + i * 10 }));

    const completed = await collect(topics.completed);
    const failed = await collect(topics.failed);
    const dead = await collect(topics.dlq);
    await produce(topics.created, records);
    const engine = testEngine({ pipelines: chain.all });
    await engine.start();

    await completed.waitFor(38, 120_000); // 30 ok + 3 flaky + 5 duplicates
    await failed.waitFor(5, 60_000); // 2 private + 2 too long + 1 outage
    await dead.waitFor(5, 60_000);
    await eventually(() => reports.length >= 5, 'the dlq-processor to report 5 dead letters', 60_000);
    await engine.stop();

    // completed: every good video once per delivery, duplicates carry the same derived event id
    const done = completed.records.map((r) => ({
      record: r,
      event: AnalysisCompleted.parse(JSON.parse(r.value ?? '')),
    }));
    expect(new Set(done.map((d) => d.event.videoId))).toEqual(
      new Set([...Array.from({ length: 30 }, (_, i) => `ok-${i}`), 'flaky-0', 'flaky-1', 'flaky-2']),
    );
    expect(new Set(done.map((d) => d.event.eventId)).size).toBe(33);
    for (const { record, event } of done) {
      expect(record.key).toBe(event.videoId);
      expect(record.headers['event-type']).toBe('video.analysis.completed');
      expect(record.headers['correlation-id']).toBe(`corr-${event.videoId}`); // carried through four pipelines
      expect(event.processingDurationMs).toBeGreaterThanOrEqual(0);
      expect(event.processingDurationMs).toBe(Date.parse(event.completedAt) - Date.parse(event.analysisStartedAt));
      expect(event.embeddingModel).toBe('stand-in-hashing-16');
    }
    // the flaky ones waited at least one 20 ms backoff at each of the three stages
    for (const d of done.filter((x) => x.event.videoId.startsWith('flaky'))) {
      expect(d.event.processingDurationMs).toBeGreaterThanOrEqual(60);
    }

    const failures = failed.records.map((r) => AnalysisFailed.parse(JSON.parse(r.value ?? '')));
    expect(failures.map((f) => [f.videoId, f.stage, f.retryable]).sort()).toEqual([
      ['down-0', 'similarity', true],
      ['long-0', 'intake', false],
      ['long-1', 'intake', false],
      ['private-0', 'transcript', false],
      ['private-1', 'transcript', false],
    ]);
    expect(failed.records.every((r) => r.headers['event-type'] === 'video.analysis.failed')).toBe(true);
    expect(failures.find((f) => f.videoId === 'down-0')?.attempts).toBe(3);

    // poison: original bytes and key, original headers kept, Spring-compatible headers added
    expect(dead.records.map((r) => r.key).sort()).toEqual(['bad-0', 'bad-1', 'bad-2', 'bad-3', 'bad-4']);
    for (const d of dead.records) {
      const original = records.find((r) => r.key === d.key);
      expect(d.value).toBe(original?.value ?? undefined);
      expect(d.headers['kafka_dlt-original-topic']).toBe(topics.created);
      expect(d.headers['kafka_dlt-original-consumer-group']).toBe(`${groupPrefix}video-intake`);
      expect(d.headers['tributary-pipeline']).toBe('video-intake');
      expect(d.headers['tributary-stage']).toMatch(/^intake\.(parse|validate)$/);
      if (d.key !== 'bad-4') expect(d.headers['correlation-id']).toBe(`corr-${d.key}`);
    }
    expect(reports.map((r) => r.key).sort()).toEqual(['bad-0', 'bad-1', 'bad-2', 'bad-3', 'bad-4']);
    expect(reports.find((r) => r.key === 'bad-2')?.reason).toContain('durationSeconds');

    // every group committed to the end of every partition it reads
    const admin = await testAdmin();
    const groups: [string, string][] = [
      ['video-intake', topics.created],
      ['transcript-worker', topics.transcriptRequested],
      ['embedding-worker', topics.embeddingRequested],
      ['similarity-worker', topics.similarityRequested],
      ['dlq-processor', topics.dlq],
    ];
    for (const [group, topic] of groups) {
      const ends = await admin.fetchTopicOffsets(topic);
      const committed = await committedOffsets(`${groupPrefix}${group}`, topic);
      for (const end of ends)
        expect(committed.get(end.partition), `${group} ${topic}/${end.partition}`).toBe(BigInt(end.high));
    }
  });
});
