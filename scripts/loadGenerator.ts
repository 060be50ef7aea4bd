/**
 * A load generator of realistic events for the shipped pipelines (used by `npm run demo`): new videos for the
 * analysis chain, users and feed activity for the notification service, scraping tasks for the scraping fleet (a
 * few with a flaky or failing URL, so retry topics and dead letters show up), and transcription requests, transcripts
 * and compression results for the video-results pipeline. About 1% of the records are malformed or
 * invalid (truncated JSON, text that is not JSON, schema violations, tombstones) and about 0.5% are producer retries
 * (the same record again); a few videos hit the stand-in services' failure markers (#flaky, #outage-*, private
 * URLs, too long) so failure events and retries show up too.
 */
import type { OutgoingRecord } from '../src/index.js';

export interface LoadTopics {
  videoCreated: string;
  feedEvents: string;
  userEvents: string;
  scrapingTasks: string;
  transcribe: string;
  transcripts: string;
  compressions: string;
}

export const DEFAULT_LOAD_TOPICS: Readonly<LoadTopics> = {
  videoCreated: 'video.created',
  feedEvents: 'feed_events',
  userEvents: 'user_events',
  scrapingTasks: 'scraping-tasks',
  transcribe: 'Transcribe',
  transcripts: 'update_transcribe',
  compressions: 'finish_compress',
};

export interface LoadGeneratorOptions {
  topics?: Partial<LoadTopics>;
  /** Share of records that are malformed or invalid. Default 0.01. */
  malformedRatio?: number;
  /** Share of records sent twice (a producer retry). Default 0.005. */
  duplicateRatio?: number;
  /** Share of new videos among the records. Default 0.1 (the rest: users 0.04, feed activity). */
  videoRatio?: number;
  /** Share of new users. Default 0.04. */
  userRatio?: number;
  /** Share of scraping tasks. Default 0.06. */
  scrapingRatio?: number;
  /** Share of transcription requests and results (Transcribe, update_transcribe, finish_compress). Default 0.06. */
  resultsRatio?: number;
  /** Seed of the pseudo-random sequence. Default: time-based. */
  seed?: number;
}

/** What the generator produced so far. */
export interface LoadStats {
  records: number;
  malformed: number;
  duplicates: number;
  byTopic: Record<string, number>;
  byKind: Record<string, number>;
}

export interface LoadGenerator {
  /** The next `count` records to send. */
  batch(count: number): OutgoingRecord[];
  readonly stats: LoadStats;
}

/** mulberry32: small, fast, good enough for load. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TOPICS_WORDS = ['Kafka', 'RxJS', 'TypeScript', 'Postgres', 'Go', 'Rust', 'streams', 'backpressure', 'offsets'];
const FORMATS = ['in 10 minutes', 'explained', 'deep dive', 'live coding', 'Q&A', 'for beginners', 'at scale'];
const COMMENTS = [
  'Great post!',
  'Thanks for sharing',
  'I disagree, but nice',
  'Where can I read more?',
  '🔥🔥🔥',
  'Saved.',
];

export function createLoadGenerator(options: LoadGeneratorOptions = {}): LoadGenerator {
  const topics = { ...DEFAULT_LOAD_TOPICS, ...options.topics };
  const {
    malformedRatio = 0.01,
    duplicateRatio = 0.005,
    videoRatio = 0.1,
    userRatio = 0.04,
    scrapingRatio = 0.06,
    resultsRatio = 0.06,
    seed = Date.now() % 2 ** 31,
  } = options;
  const random = rng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const run = seed.toString(36);
  const stats: LoadStats = { records: 0, malformed: 0, duplicates: 0, byTopic: {}, byKind: {} };
  const users: string[] = [];
  const feeds: string[] = [];
  const recent: OutgoingRecord[] = [];
  let n = 0;
  const now = () => new Date().toISOString();
  const id = (prefix: string) => `${prefix}-${run}-${(++n).toString(36)}`;

  const record = (
    topic: string,
    key: string | null,
    value: unknown,
    kind: string,
    extra: Record<string, string> = {},
  ) => {
    stats.byKind[kind] = (stats.byKind[kind] ?? 0) + 1;
    const correlationId = id('corr');
    return {
      topic,
      key,
      value: value === null ? null : typeof value === 'string' ? value : JSON.stringify(value),
      headers: { 'correlation-id': correlationId, ...extra },
    } satisfies OutgoingRecord;
  };

  const newUser = (): OutgoingRecord => {
    const userId = id('user');
    users.push(userId);
    if (users.length > 5000) users.splice(0, 1000);
    const username = `${pick(['ana', 'bo', 'chen', 'dev', 'eli', 'fay', 'gus', 'hana'])}_${n.toString(36)}`;
    return record(
      topics.userEvents,
      userId,
      {
        type: 'user_created',
        event_id: id('ue'),
        user_id: userId,
        username,
        email: `${username}@example.com`,
        timestamp: now(),
      },
      'user_created',
    );
  };

  const newVideo = (): OutgoingRecord => {
    const videoId = id('vid');
    const roll = random();
    let title = `${pick(TOPICS_WORDS)} ${pick(FORMATS)}`;
    let url = `https://videos.example.com/watch?v=${videoId}`;
    let durationSeconds = 60 + Math.floor(random() * 3600);
    let kind = 'video.created';
    if (roll < 0.03) {
      title += ' #flaky';
      kind = 'video.created (flaky)';
    } else if (roll < 0.035) {
      title += ` #outage-${pick(['transcript', 'embedding', 'similarity'])}`;
      kind = 'video.created (outage)';
    } else if (roll < 0.04) {
      url = `https://private.videos.example.com/${videoId}`;
      kind = 'video.created (private)';
    } else if (roll < 0.045) {
      durationSeconds = 5 * 3600 + Math.floor(random() * 3600);
      kind = 'video.created (too long)';
    }
    return record(
      topics.videoCreated,
      videoId,
      {
        eventId: id('evt'),
        eventType: 'video.created',
        videoId,
        occurredAt: now(),
        title,
        url,
        channelId: `channel-${Math.floor(random() * 50)}`,
        durationSeconds,
        language: pick(['en', 'en', 'en', 'fr', 'de', 'vi']),
      },
      kind,
      { 'event-type': 'video.created' },
    );
  };

  const scrapingTask = (): OutgoingRecord => {
    const taskId = id('task');
    const roll = random();
    // the stand-in fetcher understands URL markers: fail=N fails N times (retried via the delay topics),
    // status=404 is permanent (dead-lettered), a .invalid host never resolves
    let url = `https://news.example.com/articles/${taskId}`;
    let kind = 'scraping_task';
    if (roll < 0.05) {
      url += '?fail=1';
      kind = 'scraping_task (flaky)';
    } else if (roll < 0.07) {
      url += '?status=404';
      kind = 'scraping_task (404)';
    } else if (roll < 0.3) {
      url = `https://api.example.com/items/${taskId}.json`;
      kind = 'scraping_task (json)';
    }
    const messageId = id('msg');
    return record(
      topics.scrapingTasks,
      taskId,
      {
        id: messageId,
        type: 'scraping_task',
        timestamp: now(),
        payload: { task_id: taskId, url, priority: pick(['low', 'normal', 'normal', 'high']) },
      },
      kind,
    );
  };

  // each video goes through: transcription requested → transcript → compressed
  const pending: { videoId: string; step: 0 | 1 | 2 }[] = [];
  const videoResult = (): OutgoingRecord => {
    const open = pending.length > 0 && random() < 0.7 ? pick(pending) : undefined;
    if (open === undefined) {
      const videoId = id('rv');
      pending.push({ videoId, step: 1 });
      if (pending.length > 500) pending.splice(0, 100);
      return record(
        topics.transcribe,
        videoId,
        {
          video_id: videoId,
          video_url: `https://cdn.example.com/uploads/${videoId}.mp4`,
          metadata: {
            title: `${pick(TOPICS_WORDS)} ${pick(FORMATS)}`,
            courseId: `course-${Math.floor(random() * 20)}`,
          },
        },
        'Transcribe',
      );
    }
    if (open.step === 1) {
      open.step = 2;
      const words = Array.from({ length: 3 + Math.floor(random() * 8) }, (_, i) => ({
        text: pick(TOPICS_WORDS),
        start: i * 0.6,
        end: i * 0.6 + 0.5,
      }));
      return record(
        topics.transcripts,
        open.videoId,
        {
          video_id: open.videoId,
          transcription: { duration: words.length * 0.6, language: pick(['en', 'fr', 'de']), words },
        },
        'update_transcribe',
      );
    }
    pending.splice(pending.indexOf(open), 1);
    return record(
      topics.compressions,
      open.videoId,
      `https://cdn.example.com/compressed/${open.videoId}.mp4`,
      'finish_compress',
    );
  };

  const feedActivity = (): OutgoingRecord => {
    if (users.length === 0) return newUser();
    const who = pick(users);
    if (feeds.length === 0 || random() < 0.1) {
      const feedId = id('feed');
      feeds.push(feedId);
      if (feeds.length > 2000) feeds.splice(0, 500);
      return record(
        topics.feedEvents,
        feedId,
        {
          type: 'created',
          event_id: id('fe'),
          feed_id: feedId,
          user_id: who,
          content: `Thoughts on ${pick(TOPICS_WORDS)}`,
          timestamp: now(),
        },
        'created',
      );
    }
    // recent feeds get most of the activity
    const feedId = feeds[
      Math.max(0, feeds.length - 1 - Math.floor(random() ** 2 * Math.min(feeds.length, 300)))
    ] as string;
    const roll = random();
    const type = roll < 0.3 ? 'liked' : roll < 0.42 ? 'commented' : 'viewed';
    const base = { type, event_id: id('fe'), feed_id: feedId, user_id: who, timestamp: now() };
    const value = type === 'commented' ? { ...base, comment_id: id('c'), comment: pick(COMMENTS) } : base;
    return record(topics.feedEvents, feedId, value, type);
  };

  const malformed = (): OutgoingRecord => {
    stats.malformed++;
    const roll = random();
    const topic = pick([topics.videoCreated, topics.feedEvents, topics.feedEvents, topics.userEvents]);
    const key = id('bad');
    if (roll < 0.3) return record(topic, key, '{"type":"liked","feed_id":', 'malformed: truncated JSON');
    if (roll < 0.45) return record(topic, key, '<html><body>502 Bad Gateway</body></html>', 'malformed: not JSON');
    if (roll < 0.55) return record(topic, key, null, 'malformed: tombstone');
    if (topic === topics.videoCreated) {
      return record(
        topic,
        key,
        { eventType: 'video.created', videoId: key, title: '', durationSeconds: -1 },
        'invalid: schema',
      );
    }
    if (topic === topics.userEvents) {
      return record(
        topic,
        key,
        { type: 'user_created', event_id: id('ue'), user_id: key, username: 'x', email: 'nope', timestamp: now() },
        'invalid: schema',
      );
    }
    return record(
      topic,
      key,
      { type: 'shared', event_id: id('fe'), feed_id: key, user_id: 'u', timestamp: now() },
      'invalid: unknown type',
    );
  };

  const next = (): OutgoingRecord => {
    const roll = random();
    if (roll < malformedRatio) return malformed();
    if (roll < malformedRatio + duplicateRatio && recent.length > 0) {
      stats.duplicates++;
      stats.byKind.duplicate = (stats.byKind.duplicate ?? 0) + 1;
      return pick(recent);
    }
    const kindRoll = random();
    const out =
      kindRoll < videoRatio
        ? newVideo()
        : kindRoll < videoRatio + userRatio || users.length < 20
          ? newUser()
          : kindRoll < videoRatio + userRatio + scrapingRatio
            ? scrapingTask()
            : kindRoll < videoRatio + userRatio + scrapingRatio + resultsRatio
              ? videoResult()
              : feedActivity();
    recent.push(out);
    if (recent.length > 200) recent.shift();
    return out;
  };

  return {
    stats,
    batch(count) {
      const out: OutgoingRecord[] = [];
      for (let i = 0; i < count; i++) {
        const r = next();
        stats.records++;
        stats.byTopic[r.topic] = (stats.byTopic[r.topic] ?? 0) + 1;
        out.push(r);
      }
      return out;
    },
  };
}

export interface LoadRunOptions {
  generator: LoadGenerator;
  /** Sends one batch (e.g. a ProducerPort's `send`). */
  send: (records: readonly OutgoingRecord[]) => Promise<void>;
  /** Records per second. */
  rate: number;
  /** Stop after this long; default: until `stop()`. */
  durationMs?: number;
  /** How often a batch goes out. Default 100 ms. */
  tickMs?: number;
  /** Called when a send fails (the batch is dropped, the run goes on). */
  onError?: (error: unknown) => void;
}

export interface LoadRun {
  /** Records sent (acknowledged) so far. */
  readonly sent: number;
  readonly failed: number;
  /** Stops generating; resolves once the batch in flight is acknowledged. */
  stop(): Promise<void>;
  /** Resolves when the run ends (duration reached or stopped). */
  readonly done: Promise<void>;
}

/** Sends the generator's records at `rate` per second, in batches every `tickMs`. */
export function runLoad(options: LoadRunOptions): LoadRun {
  const { generator, send, rate, durationMs, tickMs = 100, onError } = options;
  if (!(rate > 0)) throw new RangeError(`rate must be > 0, got ${rate}`);
  const started = performance.now();
  let due = 0;
  let sent = 0;
  let failed = 0;
  let stopping = false;
  let wake: (() => void) | undefined;
  const sleep = (ms: number) =>
    new Promise<void>((done) => {
      const timer = setTimeout(done, ms);
      wake = () => {
        clearTimeout(timer);
        done();
      };
    });

  const done = (async () => {
    while (!stopping) {
      const elapsed = performance.now() - started;
      if (durationMs !== undefined && elapsed >= durationMs) break;
      const target = Math.floor(((durationMs === undefined ? elapsed : Math.min(elapsed, durationMs)) * rate) / 1000);
      // never more than two seconds' worth at once (when the broker was slow)
      const count = Math.min(target - due, Math.max(1, rate * 2));
      if (count > 0) {
        due += count;
        const batch = generator.batch(count);
        try {
          await send(batch);
          sent += batch.length;
        } catch (error) {
          failed += batch.length;
          onError?.(error);
        }
      }
      await sleep(tickMs);
    }
  })();

  return {
    get sent() {
      return sent;
    },
    get failed() {
      return failed;
    },
    async stop() {
      stopping = true;
      wake?.();
      await done;
    },
    done,
  };
}
