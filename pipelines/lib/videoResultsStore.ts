/**
 * Where the transcription and compression results end up: one row per video in PostgreSQL, written with idempotent
 * UPSERTs. Applying the same result twice changes nothing the second time (not even `updated_at`); a result older
 * than the one stored (by the Kafka timestamp of its record) is ignored, so a late re-delivery or a replay from the
 * dead-letter topic never rolls a row back. Requests, transcripts and compressions touch disjoint columns, so they can
 * be applied concurrently in any order; `status` is computed by PostgreSQL from what the row holds.
 */
import { Pool } from 'pg';
import type { VideoUpdate } from '../schemas/videoResults.js';

/** What applying one update did: a new row, a changed row, or nothing (the same result again, or an older one). */
export type ApplyResult = 'inserted' | 'updated' | 'unchanged';

/** Where the results pipeline applies its updates. */
export interface VideoStore {
  apply(update: VideoUpdate): Promise<ApplyResult>;
}

/** The part of `pg`'s client the store uses (a `pg.Pool` or `pg.PoolClient` fits). */
export interface SqlClient {
  query(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[]; rowCount: number | null }>;
}

/** The part of `pg.Pool` the store uses. */
export interface SqlPool extends SqlClient {
  connect(): Promise<SqlClient & { release(error?: Error | boolean): void }>;
}

const TABLE_PART = /^[a-z_][a-z0-9_]{0,49}$/;

/**
 * The quoted table name, from `videos` or `schema.videos`: lower-case letters, digits and `_`, at most 50 characters
 * a part (so derived index names stay within PostgreSQL's 63). Throws a TypeError naming the rule otherwise.
 */
export function quoteTableName(name: string): string {
  const parts = name.split('.');
  if (parts.length > 2 || !parts.every((part) => TABLE_PART.test(part))) {
    throw new TypeError(
      `table name "${name}" must be [schema.]table with lower-case letters, digits and _ (at most 50 characters each)`,
    );
  }
  return parts.map((part) => `"${part}"`).join('.');
}

/** The DDL of the table (and its status index), idempotent: `CREATE ... IF NOT EXISTS`. */
export function videoTableDdl(table: string): string[] {
  const quoted = quoteTableName(table);
  const base = table.split('.').pop() ?? table;
  return [
    `CREATE TABLE IF NOT EXISTS ${quoted} (
  video_id       text PRIMARY KEY,
  video_url      text,
  metadata       jsonb,
  requested_at   timestamptz,
  transcript     jsonb,
  transcript_text text,
  transcribed_at timestamptz,
  compressed_url text,
  compressed_at  timestamptz,
  status         text NOT NULL GENERATED ALWAYS AS (
    CASE
      WHEN transcript IS NOT NULL AND compressed_url IS NOT NULL THEN 'ready'
      WHEN transcript IS NOT NULL THEN 'transcribed'
      WHEN compressed_url IS NOT NULL THEN 'compressed'
      ELSE 'requested'
    END) STORED,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
)`,
    `CREATE INDEX IF NOT EXISTS "${base}_status_idx" ON ${quoted} (status)`,
  ];
}

/**
 * Creates the table if it is missing. Runs in a transaction holding an advisory lock on the table's name, so instances
 * starting together do not race on `CREATE TABLE IF NOT EXISTS` (which can fail with a unique violation when two run
 * at once).
 */
export async function ensureSchema(pool: SqlPool, table = 'videos'): Promise<void> {
  const ddl = videoTableDdl(table);
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`tributary:videos:${table}`]);
    for (const statement of ddl) await client.query(statement);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch((rollbackError: unknown) => {
      broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
    });
    throw error;
  } finally {
    client.release(broken ?? false);
  }
}

/** The columns one kind of update writes, and the column holding its event time. */
interface UpsertSpec {
  columns: readonly string[];
  casts: readonly string[];
  timeColumn: string;
}

const UPSERTS: Readonly<Record<VideoUpdate['kind'], UpsertSpec>> = {
  request: { columns: ['video_url', 'metadata'], casts: ['text', 'jsonb'], timeColumn: 'requested_at' },
  transcript: { columns: ['transcript', 'transcript_text'], casts: ['jsonb', 'text'], timeColumn: 'transcribed_at' },
  compressed: { columns: ['compressed_url'], casts: ['text'], timeColumn: 'compressed_at' },
};

/**
 * The UPSERT of one kind of update: insert the row, or update its columns when the update is newer than what the row
 * holds (by event time), or as new but different. `RETURNING (xmax = 0)` tells an insert from an update; no row
 * returned means nothing changed.
 */
export function upsertSql(table: string, kind: VideoUpdate['kind']): string {
  const quoted = quoteTableName(table);
  const { columns, casts, timeColumn } = UPSERTS[kind];
  const all = ['video_id', ...columns, timeColumn];
  const placeholders = ['$1', ...columns.map((_, i) => `$${i + 2}::${casts[i]}`), `$${columns.length + 2}`];
  const sets = [...columns, timeColumn].map((c) => `${c} = EXCLUDED.${c}`);
  const current = columns.map((c) => `v.${c}`).join(', ');
  const incoming = columns.map((c) => `EXCLUDED.${c}`).join(', ');
  return [
    `INSERT INTO ${quoted} AS v (${all.join(', ')}) VALUES (${placeholders.join(', ')})`,
    `ON CONFLICT (video_id) DO UPDATE SET ${sets.join(', ')}, updated_at = now()`,
    `WHERE v.${timeColumn} IS NULL OR v.${timeColumn} < EXCLUDED.${timeColumn}`,
    `   OR (v.${timeColumn} = EXCLUDED.${timeColumn} AND ROW(${current}) IS DISTINCT FROM ROW(${incoming}))`,
    'RETURNING (xmax = 0) AS inserted',
  ].join('\n');
}

/** The values of an update, in {@link upsertSql}'s placeholder order. */
export function upsertValues(update: VideoUpdate): unknown[] {
  switch (update.kind) {
    case 'request':
      return [
        update.videoId,
        update.videoUrl,
        update.metadata === null ? null : JSON.stringify(update.metadata),
        update.at,
      ];
    case 'transcript':
      return [
        update.videoId,
        JSON.stringify({ language: update.language, duration_seconds: update.durationSeconds, words: update.words }),
        update.text,
        update.at,
      ];
    case 'compressed':
      return [update.videoId, update.compressedUrl, update.at];
  }
}

const TRANSIENT_CLASSES = new Set(['08', '40', '53', '57', '58']);
const TRANSIENT_CODES = new Set(['55P03', '55006', '42P01', 'XX000']);
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
]);

/**
 * Whether another try may succeed: connection trouble (`08…`, refused or reset sockets, pool timeouts), transaction
 * conflicts (`40001` serialization, `40P01` deadlock), resource limits (`53…`), an administrator's shutdown or a
 * statement timeout (`57…`), a lock not available (`55P03`) and a missing table (`42P01`: dropped while running; the
 * store creates it again) are retried. Data errors (`22…`: an invalid value, a NUL character), constraint violations
 * (`23…`) and other SQL errors (`42…`) fail the same way every time: the record goes to the dead-letter topic.
 * Errors without an SQLSTATE (a connection that ended, a timeout of ours) are retried.
 */
export function isRetriableDbError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return true;
  const { code, retriable } = error as { code?: unknown; retriable?: unknown };
  if (typeof retriable === 'boolean') return retriable;
  if (typeof code !== 'string') return true;
  if (NETWORK_CODES.has(code)) return true;
  if (!/^[0-9A-Z]{5}$/.test(code)) return true;
  return TRANSIENT_CLASSES.has(code.slice(0, 2)) || TRANSIENT_CODES.has(code);
}

export interface PostgresVideoStoreOptions {
  /** A `pg.Pool` (the caller ends it), or a function that returns it on first use (created lazily). */
  pool: SqlPool | (() => SqlPool);
  /** The table, `[schema.]name`. Default `'videos'`. */
  table?: string;
}

export interface PostgresVideoStore extends VideoStore {
  readonly table: string;
  /** Creates the table if missing; once per store (again after a failure, or after the table disappeared). */
  ensureSchema(): Promise<void>;
}

/**
 * A {@link VideoStore} on PostgreSQL. The first `apply` creates the table if it is missing ({@link ensureSchema},
 * once); each update is one UPSERT ({@link upsertSql}).
 */
export function postgresVideoStore(options: PostgresVideoStoreOptions): PostgresVideoStore {
  const table = options.table ?? 'videos';
  quoteTableName(table);
  const sql = {
    request: upsertSql(table, 'request'),
    transcript: upsertSql(table, 'transcript'),
    compressed: upsertSql(table, 'compressed'),
  };
  let pool: SqlPool | undefined;
  const poolOf = (): SqlPool => {
    pool ??= typeof options.pool === 'function' ? options.pool() : options.pool;
    return pool;
  };
  let schema: Promise<void> | undefined;
  const ensure = (): Promise<void> => {
    schema ??= ensureSchema(poolOf(), table).catch((error: unknown) => {
      schema = undefined; // try again with the next update
      throw error;
    });
    return schema;
  };
  return {
    table,
    ensureSchema: ensure,
    async apply(update) {
      await ensure();
      try {
        const result = await poolOf().query(sql[update.kind], upsertValues(update));
        const row = result.rows[0];
        if (row === undefined) return 'unchanged';
        return row.inserted === true ? 'inserted' : 'updated';
      } catch (error) {
        if ((error as { code?: unknown }).code === '42P01') schema = undefined; // the table went away: create it again
        throw error;
      }
    },
  };
}

/** The connection string: `DATABASE_URL`, else the local test database. */
export function databaseUrl(env: NodeJS.ProcessEnv = process.env): string {
  return env.DATABASE_URL?.trim() || 'postgres://postgres@127.0.0.1:5432/test';
}

export interface VideoPoolOptions {
  connectionString?: string;
  /** Most connections. Default 10. */
  max?: number;
  /** Server-side limit per statement. Default 10 000 ms (a timeout is retried). */
  statementTimeoutMs?: number;
  /** Called with errors of idle connections (a restarted server); without a listener they would crash the process. */
  onError?: (error: Error) => void;
}

/** A `pg.Pool` for the results pipeline; connects on first query, not before. */
export function createVideoPool(options: VideoPoolOptions = {}): Pool {
  const pool = new Pool({
    connectionString: options.connectionString ?? databaseUrl(),
    max: options.max ?? 10,
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30_000,
    statement_timeout: options.statementTimeoutMs ?? 10_000,
    application_name: 'tributary-video-results',
  });
  pool.on('error', options.onError ?? (() => {}));
  return pool;
}
