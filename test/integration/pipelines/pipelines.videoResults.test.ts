/**
 * Transcription and compression results on the real broker and a real PostgreSQL (127.0.0.1:5432, database `test`,
 * or DATABASE_URL): requests published with publishTranscribeRequest, transcripts in both seed shapes, compressions
 * as text and JSON, duplicates and poison. Checks the rows, the dead letters, the committed offsets, and idempotency:
 * a second consumer group re-reading every record (the same records, the same timestamps) changes no row — not even
 * `updated_at` — and neither does an older result arriving late. The table is unique to the test and dropped after.
 */
import { randomUUID } from 'node:crypto';
import { Partitioners } from 'kafkajs';
import { Pool } from 'pg';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createVideoPool, databaseUrl } from '../../../pipelines/lib/videoResultsStore.js';
import { createVideoResultsPipeline, publishTranscribeRequest } from '../../../pipelines/videoResults.js';
import { createKafkajsClient } from '../../../src/index.js';
import { eventually, testEngine } from '../../support/engine.js';
import {
  bootstrapServers,
  collect,
  committedOffsets,
  createTopic,
  expectCommittedToEnd,
  produce,
  type TestRecord,
  testAdmin,
  testKafka,
  uniqueName,
} from '../../support/kafka.js';

type Row = {
  video_id: string;
  video_url: string | null;
  metadata: Record<string, unknown> | null;
  transcript: {
    language: string;
    duration_seconds: number;
    words: { text: string; start: number; end: number }[];
  } | null;
  transcript_text: string | null;
  transcribed_at: Date | null;
  compressed_url: string | null;
  compressed_at: Date | null;
  status: string;
  updated_at: Date;
};

const N = 30;
const ids = Array.from({ length: N }, (_, i) => `vid-${String(i).padStart(2, '0')}`);

function nestedTranscript(videoId: string, words = 3) {
  return {
    video_id: videoId,
    transcription: {
      duration: words * 0.5,
      language: 'en',
      words: Array.from({ length: words }, (_, i) => ({
        text: `${videoId}-w${i}`,
        start: i * 0.5,
        end: i * 0.5 + 0.4,
      })),
    },
  };
}

function flatTranscript(videoId: string, words = 3) {
  return {
    videoId,
    duration: words * 0.5,
    language: 'sw',
    words: Array.from({ length: words }, (_, i) => ({
      word: `${videoId}-w${i}`,
      start: i * 0.5,
      end: i * 0.5 + 0.4,
      confidence: 0.9,
    })),
    fullText: `full text of ${videoId}`,
  };
}

describe('video results → PostgreSQL on the broker', () => {
  it('applies requests and results once per video, dead-letters poison, commits, and stays the same on replay', async () => {
    const pool = new Pool({ connectionString: databaseUrl(), max: 3 });
    const table = `videos_it_${randomUUID().slice(0, 8)}`;
    onTestFinished(async () => {
      await pool.query(`DROP TABLE IF EXISTS "${table}"`).catch(() => {});
      await pool.end();
    });
    const topics = {
      transcribeRequests: await createTopic('Transcribe', 2),
      transcripts: await createTopic('update_transcribe', 3),
      compressions: await createTopic('finish_compress', 3),
      deadLetter: await createTopic('video-results.dlq', 1),
    };
    const groupId = uniqueName('video-results');

    // the producer side: the API server's requests, through the engine's own producer port
    const producer = createKafkajsClient({ brokers: bootstrapServers(), clientId: 'test-api-server' }).producer();
    await producer.connect();
    onTestFinished(() => producer.disconnect());
    for (const videoId of ids) {
      await publishTranscribeRequest(
        producer,
        {
          video_id: videoId,
          video_url: `https://uploads.example.com/${videoId}.mp4`,
          metadata: { title: `Lesson ${videoId}`, courseId: 'course-1', userId: 'user-7' },
        },
        { topic: topics.transcribeRequests, correlationId: `req-${videoId}` },
      );
    }

    // results: every video transcribed (both shapes), two thirds compressed (text, JSON string, JSON object)
    const transcripts: TestRecord[] = ids.map((videoId, i) => ({
      key: i % 4 === 0 ? undefined : videoId,
      value: JSON.stringify(i % 2 === 0 ? nestedTranscript(videoId) : flatTranscript(videoId)),
      headers: { 'correlation-id': `req-${videoId}` },
    }));
    const compressedIds = ids.filter((_, i) => i % 3 !== 2);
    const compressions: TestRecord[] = compressedIds.map((videoId, i) => {
      const url = `https://cdn.example.com/compressed/${videoId}.mp4`;
      const value = i % 3 === 0 ? url : i % 3 === 1 ? JSON.stringify(url) : JSON.stringify({ videoId, cloudUrl: url });
      return { key: videoId, value };
    });
    // duplicates: the transcriber and the compressor sent some results twice
    const duplicates = {
      transcripts: [transcripts[1], transcripts[2], transcripts[7]],
      compressions: [compressions[0], compressions[4]],
    };
    // poison: unreadable records, and a transcript PostgreSQL refuses (a NUL character cannot be stored)
    const poisonTranscripts: TestRecord[] = [
      { key: 'p1', value: '{"video_id": "p1", "transcription": {' },
      {
        key: 'p2',
        value: JSON.stringify({ videoId: 'p2', duration: 1, language: 'en', words: [{ word: 'x', start: 3, end: 1 }] }),
      },
      { key: 'p3', value: null },
      {
        key: 'p4',
        value: JSON.stringify({
          ...nestedTranscript('p4', 1),
          transcription: { duration: 1, language: 'en', words: [{ text: 'nul\u0000byte', start: 0, end: 1 }] },
        }),
      },
    ];
    const poisonCompressions: TestRecord[] = [
      { key: 'vid-00', value: JSON.stringify({ videoId: 'vid-01', cloudUrl: 'https://cdn.example.com/x.mp4' }) },
      { value: 'https://cdn.example.com/no-key.mp4' },
      { key: 'p7', value: 'ftp://cdn.example.com/p7.mp4' },
    ];
    const allTranscripts = [...transcripts, ...(duplicates.transcripts as TestRecord[]), ...poisonTranscripts];
    const allCompressions = [...compressions, ...(duplicates.compressions as TestRecord[]), ...poisonCompressions];
    await produce(topics.transcripts, allTranscripts);
    await produce(topics.compressions, allCompressions);
    const total = N + allTranscripts.length + allCompressions.length;
    const expectedDead = poisonTranscripts.length + poisonCompressions.length;

    const dead = await collect(topics.deadLetter);
    const rows = async (): Promise<Row[]> =>
      (await pool.query<Row>(`SELECT * FROM "${table}" ORDER BY video_id`).catch(() => ({ rows: [] as Row[] }))).rows;
    const done = async () => {
      const all = await rows();
      return (
        all.length === N &&
        all.every((r) => r.transcript !== null && r.video_url !== null) &&
        all.filter((r) => r.compressed_url !== null).length === compressedIds.length
      );
    };

    const started = Date.now();
    const engine = testEngine({ pipelines: [createVideoResultsPipeline({ topics, groupId, table })] });
    await engine.start();
    await eventually(done, 'every row written', 60_000);
    const appliedMs = Date.now() - started;
    await dead.waitFor(expectedDead, 30_000);
    await engine.stop();
    console.log(
      `[video-results] ${total} records (${N} requests, ${allTranscripts.length} transcripts, ${allCompressions.length} compressions) ` +
        `applied to PostgreSQL in ${appliedMs} ms from engine start (${Math.round((total / appliedMs) * 1000)} records/s, incl. group join)`,
    );

    // one correct row per video
    const first = await rows();
    expect(first).toHaveLength(N);
    for (const [i, row] of first.entries()) {
      const videoId = ids[i] as string;
      expect(row.video_id).toBe(videoId);
      expect(row.video_url).toBe(`https://uploads.example.com/${videoId}.mp4`);
      expect(row.metadata).toEqual({ title: `Lesson ${videoId}`, courseId: 'course-1', userId: 'user-7' });
      expect(row.transcript?.language).toBe(i % 2 === 0 ? 'en' : 'sw');
      expect(row.transcript?.words.map((w) => w.text)).toEqual([0, 1, 2].map((w) => `${videoId}-w${w}`));
      expect(row.transcript_text).toBe(
        i % 2 === 0 ? `${videoId}-w0 ${videoId}-w1 ${videoId}-w2` : `full text of ${videoId}`,
      );
      const compressed = compressedIds.includes(videoId);
      expect(row.compressed_url).toBe(compressed ? `https://cdn.example.com/compressed/${videoId}.mp4` : null);
      expect(row.status).toBe(compressed ? 'ready' : 'transcribed');
    }

    // poison: dead-lettered with the stage and the original topic; nothing of it in the table
    const deadStages = dead.records
      .map((d) => `${d.headers['kafka_dlt-original-topic']} ${d.headers['tributary-stage']}`)
      .sort();
    expect(deadStages).toEqual(
      [
        `${topics.compressions} videoResults.compressed.validate`,
        `${topics.compressions} videoResults.compressed.validate`,
        `${topics.compressions} videoResults.compressed.validate`,
        `${topics.transcripts} videoResults.apply`,
        `${topics.transcripts} videoResults.transcript.parse`,
        `${topics.transcripts} videoResults.transcript.parse`,
        `${topics.transcripts} videoResults.transcript.validate`,
      ].sort(),
    );
    const refused = dead.records.find((d) => d.headers['tributary-stage'] === 'videoResults.apply');
    expect(refused?.headers['tributary-attempts']).toBe('1'); // a data error is not retried
    expect(refused?.headers['kafka_dlt-exception-message']).toMatch(/Unicode|0x00/);
    expect(dead.records.every((d) => d.headers['kafka_dlt-original-consumer-group'] === groupId)).toBe(true);
    expect(first.some((r) => r.video_id.startsWith('p'))).toBe(false);

    // everything committed
    await expectCommittedToEnd(groupId, [topics.transcribeRequests, topics.transcripts, topics.compressions]);
    const admin = await testAdmin();

    // replay: another group re-reads every record (Kafka's re-delivery: same records, same timestamps) → no change
    const replayGroup = uniqueName('video-results-replay');
    const replay = testEngine({ pipelines: [createVideoResultsPipeline({ topics, groupId: replayGroup, table })] });
    const replayStarted = Date.now();
    await replay.start();
    await dead.waitFor(expectedDead * 2, 60_000); // the poison again, so the replay got through everything
    await eventually(async () => {
      const committed = await committedOffsets(replayGroup, topics.compressions);
      const ends = await admin.fetchTopicOffsets(topics.compressions);
      return ends.every((e) => committed.get(e.partition) === BigInt(e.high));
    }, 'the replay committed to the end');
    await replay.stop();
    console.log(`[video-results] replay of ${total} records in ${Date.now() - replayStarted} ms: rows unchanged`);
    expect(await rows()).toEqual(first); // updated_at included: the UPSERTs changed nothing

    // a late, older transcript for vid-03 (timestamp before the stored one) is ignored; a newer one wins
    const stored = first[3] as Row;
    const late = testKafka('test-late-producer').producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await late.connect();
    onTestFinished(() => late.disconnect());
    const older = String((stored.transcribed_at as Date).getTime() - 60_000);
    await late.send({
      topic: topics.transcripts,
      acks: -1,
      messages: [{ key: 'vid-03', value: JSON.stringify(flatTranscript('vid-03', 1)), timestamp: older }],
    });
    const again = testEngine({ pipelines: [createVideoResultsPipeline({ topics, groupId, table })] });
    await again.start();
    await eventually(async () => {
      const committed = await committedOffsets(groupId, topics.transcripts);
      const ends = await admin.fetchTopicOffsets(topics.transcripts);
      return ends.every((e) => committed.get(e.partition) === BigInt(e.high));
    }, 'the late transcript consumed');
    expect(await rows()).toEqual(first);
    await late.send({
      topic: topics.transcripts,
      acks: -1,
      messages: [{ key: 'vid-03', value: JSON.stringify(flatTranscript('vid-03', 1)) }],
    });
    await eventually(async () => (await rows())[3]?.transcript?.words.length === 1, 'the newer transcript applied');
    await again.stop();
    const changed = (await rows())[3] as Row;
    expect(changed.transcript_text).toBe('full text of vid-03');
    expect(changed.status).toBe(stored.status);
    expect(changed.updated_at.getTime()).toBeGreaterThan(stored.updated_at.getTime());
    expect((await rows()).filter((r) => r.video_id !== 'vid-03')).toEqual(first.filter((r) => r.video_id !== 'vid-03'));
  });

  it('retries while PostgreSQL refuses connections, then dead-letters the record and commits past it', async () => {
    const topics = {
      transcribeRequests: await createTopic('Transcribe', 1),
      transcripts: await createTopic('update_transcribe', 1),
      compressions: await createTopic('finish_compress', 1),
      deadLetter: await createTopic('video-results.dlq', 1),
    };
    const groupId = uniqueName('video-results-down');
    // nothing listens on port 1: every connection attempt is refused at once
    const pool = createVideoPool({ connectionString: 'postgres://postgres@127.0.0.1:1/test' });
    onTestFinished(() => pool.end());
    const dead = await collect(topics.deadLetter);
    await produce(topics.compressions, [{ key: 'v1', value: 'https://cdn.example.com/v1.mp4' }]);
    const engine = testEngine({
      pipelines: [
        createVideoResultsPipeline({
          topics,
          groupId,
          pool,
          table: 'videos_unreachable',
          retry: { attempts: 3, initialDelayMs: 50, maxDelayMs: 100 },
        }),
      ],
    });
    await engine.start();
    await dead.waitFor(1, 30_000);
    await eventually(
      async () => (await committedOffsets(groupId, topics.compressions)).get(0) === 1n,
      'the dead-lettered record committed',
    );
    await engine.stop();
    const [record] = dead.records;
    expect(record?.headers).toMatchObject({
      'tributary-stage': 'videoResults.apply',
      'tributary-attempts': '3',
      'kafka_dlt-original-topic': topics.compressions,
    });
    expect(record?.headers['kafka_dlt-exception-message']).toMatch(/^failed after 3 attempts: .*ECONNREFUSED/);
    expect(record?.value).toBe('https://cdn.example.com/v1.mp4');
    expect(record?.key).toBe('v1');
  });
});
