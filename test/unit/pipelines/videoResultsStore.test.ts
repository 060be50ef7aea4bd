import { describe, expect, it } from 'vitest';
import {
  databaseUrl,
  isRetriableDbError,
  postgresVideoStore,
  quoteTableName,
  type SqlClient,
  type SqlPool,
  upsertSql,
  upsertValues,
  videoTableDdl,
} from '../../../pipelines/lib/videoResultsStore.js';
import type { VideoUpdate } from '../../../pipelines/schemas/videoResults.js';
import { TributaryError } from '../../../src/index.js';

type Answer = { rows: Record<string, unknown>[]; rowCount: number | null };

/** A pool that records every statement and answers from `answer` (throw to fail a statement). */
function fakePool(answer: (text: string) => Answer | Promise<Answer> = () => ({ rows: [], rowCount: 0 })) {
  const log: string[] = [];
  const released: (Error | boolean | undefined)[] = [];
  const client: SqlClient = {
    async query(text) {
      log.push(text.split('\n')[0] ?? text);
      return answer(text);
    },
  };
  const pool: SqlPool = {
    query: client.query,
    async connect() {
      return { query: client.query, release: (error?: Error | boolean) => void released.push(error) };
    },
  };
  return { pool, log, released };
}

const at = new Date('2024-05-01T10:00:00Z');
const compressed: VideoUpdate = {
  kind: 'compressed',
  videoId: 'v1',
  compressedUrl: 'https://cdn.example.com/v1.mp4',
  at,
};

describe('postgresVideoStore', () => {
  it('creates the table once, under an advisory lock, before the first write; later writes go straight to the UPSERT', async () => {
    const { pool, log, released } = fakePool((text) =>
      text.startsWith('INSERT') ? { rows: [{ inserted: true }], rowCount: 1 } : { rows: [], rowCount: 0 },
    );
    const store = postgresVideoStore({ pool, table: 'videos_x' });
    const results = await Promise.all([store.apply(compressed), store.apply(compressed), store.apply(compressed)]);
    expect(results).toEqual(['inserted', 'inserted', 'inserted']);
    expect(log).toEqual([
      'BEGIN',
      'SELECT pg_advisory_xact_lock(hashtext($1))',
      'CREATE TABLE IF NOT EXISTS "videos_x" (',
      'CREATE INDEX IF NOT EXISTS "videos_x_status_idx" ON "videos_x" (status)',
      'COMMIT',
      'INSERT INTO "videos_x" AS v (video_id, compressed_url, compressed_at) VALUES ($1, $2::text, $3)',
      'INSERT INTO "videos_x" AS v (video_id, compressed_url, compressed_at) VALUES ($1, $2::text, $3)',
      'INSERT INTO "videos_x" AS v (video_id, compressed_url, compressed_at) VALUES ($1, $2::text, $3)',
    ]);
    expect(released).toEqual([false]);
  });

  it('tells inserted, updated and unchanged rows apart', async () => {
    const answers: Answer[] = [
      { rows: [{ inserted: true }], rowCount: 1 },
      { rows: [{ inserted: false }], rowCount: 1 },
      { rows: [], rowCount: 0 },
    ];
    const { pool } = fakePool((text) =>
      text.startsWith('INSERT') ? (answers.shift() as Answer) : { rows: [], rowCount: 0 },
    );
    const store = postgresVideoStore({ pool });
    expect([await store.apply(compressed), await store.apply(compressed), await store.apply(compressed)]).toEqual([
      'inserted',
      'updated',
      'unchanged',
    ]);
  });

  it('tries the schema again after a failure, and after the table disappeared', async () => {
    let failDdl = true;
    let dropTable = false;
    const { pool, log, released } = fakePool((text) => {
      if (text.startsWith('CREATE TABLE') && failDdl)
        throw Object.assign(new Error('connection lost'), { code: '08006' });
      if (text.startsWith('INSERT') && dropTable) {
        dropTable = false;
        throw Object.assign(new Error('relation "videos" does not exist'), { code: '42P01' });
      }
      return { rows: [{ inserted: true }], rowCount: 1 };
    });
    const store = postgresVideoStore({ pool });
    await expect(store.apply(compressed)).rejects.toThrow('connection lost');
    expect(log.slice(-1)).toEqual(['ROLLBACK']);
    failDdl = false;
    await expect(store.apply(compressed)).resolves.toBe('inserted');
    dropTable = true;
    await expect(store.apply(compressed)).rejects.toMatchObject({ code: '42P01' });
    await expect(store.apply(compressed)).resolves.toBe('inserted');
    expect(log.filter((l) => l.startsWith('CREATE TABLE'))).toHaveLength(3);
    expect(released).toEqual([false, false, false]);
  });

  it('creates its pool only when the first update arrives', async () => {
    let created = 0;
    const { pool } = fakePool();
    const store = postgresVideoStore({
      pool: () => {
        created++;
        return pool;
      },
    });
    expect(created).toBe(0);
    await store.apply(compressed);
    await store.apply(compressed);
    expect(created).toBe(1);
  });
});

describe('SQL', () => {
  it('guards each UPSERT by event time and skips a value that did not change', () => {
    expect(upsertSql('videos', 'transcript')).toBe(
      [
        'INSERT INTO "videos" AS v (video_id, transcript, transcript_text, transcribed_at) VALUES ($1, $2::jsonb, $3::text, $4)',
        'ON CONFLICT (video_id) DO UPDATE SET transcript = EXCLUDED.transcript, transcript_text = EXCLUDED.transcript_text, transcribed_at = EXCLUDED.transcribed_at, updated_at = now()',
        'WHERE v.transcribed_at IS NULL OR v.transcribed_at < EXCLUDED.transcribed_at',
        '   OR (v.transcribed_at = EXCLUDED.transcribed_at AND ROW(v.transcript, v.transcript_text) IS DISTINCT FROM ROW(EXCLUDED.transcript, EXCLUDED.transcript_text))',
        'RETURNING (xmax = 0) AS inserted',
      ].join('\n'),
    );
    expect(upsertSql('app.videos', 'request')).toContain(
      'INSERT INTO "app"."videos" AS v (video_id, video_url, metadata, requested_at)',
    );
  });

  it('serialises each kind of update in placeholder order', () => {
    expect(upsertValues(compressed)).toEqual(['v1', 'https://cdn.example.com/v1.mp4', at]);
    expect(
      upsertValues({ kind: 'request', videoId: 'v1', videoUrl: 'https://x.example.com/v', metadata: null, at }),
    ).toEqual(['v1', 'https://x.example.com/v', null, at]);
    const words = [{ text: 'hi', start: 0, end: 0.2 }];
    expect(
      upsertValues({ kind: 'transcript', videoId: 'v1', language: 'en', durationSeconds: 1, words, text: 'hi', at }),
    ).toEqual(['v1', JSON.stringify({ language: 'en', duration_seconds: 1, words }), 'hi', at]);
  });

  it('accepts plain lower-case table names only', () => {
    expect(quoteTableName('videos')).toBe('"videos"');
    expect(quoteTableName('media.videos_2')).toBe('"media"."videos_2"');
    for (const bad of ['Videos', 'videos; DROP TABLE x', 'a.b.c', '', '1videos', 'v'.repeat(51), 'x"y']) {
      expect(() => quoteTableName(bad), bad).toThrow(TypeError);
    }
    expect(videoTableDdl('videos')[0]).toMatch(/^CREATE TABLE IF NOT EXISTS "videos" \(/);
  });

  it('retries what may pass and not what fails the same way every time', () => {
    const retried = [
      '08006',
      '08001',
      '40001',
      '40P01',
      '53300',
      '57P01',
      '57014',
      '55P03',
      '42P01',
      'ECONNREFUSED',
      'ECONNRESET',
    ];
    const final = ['22P05', '22021', '22001', '23505', '23502', '42601', '42703', '42501'];
    for (const code of retried) expect(isRetriableDbError(Object.assign(new Error(code), { code })), code).toBe(true);
    for (const code of final) expect(isRetriableDbError(Object.assign(new Error(code), { code })), code).toBe(false);
    expect(isRetriableDbError(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isRetriableDbError(new TributaryError('TRIBUTARY_ERR_TIMEOUT', 'slow'))).toBe(true);
    expect(isRetriableDbError(new TributaryError('TRIBUTARY_ERR_VALIDATION', 'bad'))).toBe(false);
  });

  it('reads DATABASE_URL, else the local test database', () => {
    expect(databaseUrl({})).toBe('postgres://postgres@127.0.0.1:5432/test');
    expect(databaseUrl({ DATABASE_URL: ' postgres://u@db:5432/prod ' })).toBe('postgres://u@db:5432/prod');
  });
});
