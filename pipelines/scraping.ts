/**
 * The scraping fleet (seed 001): `scraping-tasks` → scraper → `scraped-data` → parser → `parsed-data`, with
 * non-blocking retries through delay topics and a `dead-letter` topic.
 *
 * - **scraper** (group `scraper-group`): reads fleet messages from `scraping-tasks`, routes them by `type`
 *   (`scraping_task`; any other type is dead-lettered, naming it), fetches the URL with a pluggable fetch (a
 *   deterministic stand-in by default) and publishes a `scraped_html` or `scraped_json` message keyed by task id. A
 *   fetch that fails with a retriable error (a 503, a 429, a timeout, a reset connection) is retried in process
 *   (`inProcessAttempts`, default 2), then sent to `scraping-tasks.retry.10s`, `.retry.1m`, `.retry.5m` (the seed's
 *   `retry` topic, one per delay), and finally dead-lettered; a permanent one (a 404, an unsupported content type) is
 *   dead-lettered at once.
 * - **scraper.retry.10s / .1m / .5m** (groups `scraper-group.retry.<delay>`): consume the delay topics, hold each
 *   record until it is due and run the scraper's chain on it again.
 * - **parser** (group `parser-group`): reads `scraped-data`, routes by `type` (`scraped_html` → HTML parser,
 *   `scraped_json` → JSON parser, others → dead letter) and publishes `parsed_data` keyed by task id.
 *
 * Every stage drops duplicates by message id (`dedupe`; in memory by default, Redis with `dedupe.redis` or the
 * `SCRAPING_REDIS_URL` environment variable) and carries the correlation id end to end: the `correlation-id` header
 * (or the message's `correlation_id` when the header is missing) is the header and the `correlation_id` of every
 * message produced for the task, retry and dead-letter records included. Records that cannot be read (malformed JSON,
 * a missing field, an invalid URL, a tombstone) go to `dead-letter` with the reason.
 */
import type { Cluster } from 'ioredis';
import { Redis } from 'ioredis';
import { asyncScheduler, pipe, type SchedulerLike } from 'rxjs';
import {
  type DedupeStore,
  dedupe,
  definePipeline,
  type Envelope,
  mapValue,
  memoryDedupeStore,
  type Pipeline,
  parseJson,
  publish,
  type RetryAttempt,
  type RetryDelay,
  type RetryViaTopicsOptions,
  redisDedupeStore,
  retryTopicNames,
  retryTopicPipelines,
  retryViaTopics,
  route,
  type TopicSpec,
  validate,
} from '../src/index.js';
import { deriveEventId, isoTime } from './lib/eventIds.js';
import { oneRecordPerLane } from './lib/oneRecordPerLane.js';
import {
  adoptCorrelationId,
  isTransientStatus,
  messageDedupeId,
  type PageContent,
  pageKind,
  parseHtmlPage,
  parseJsonPage,
  priorAttempts,
  retryRound,
  ScrapeError,
  type ScrapeFetch,
  standInFetch,
  truncateUtf8,
} from './lib/scraping.js';
import {
  ParsedData,
  SCRAPING_MESSAGE_TYPES,
  ScrapedData,
  ScrapedHtml,
  ScrapedJson,
  ScrapingMessage,
  ScrapingTask,
} from './schemas/scraping.js';

/** The fleet's topics (seed 001's names by default). */
export interface ScrapingTopics {
  tasks: string;
  scrapedData: string;
  parsedData: string;
  deadLetter: string;
}

export const DEFAULT_SCRAPING_TOPICS: Readonly<ScrapingTopics> = {
  tasks: 'scraping-tasks',
  scrapedData: 'scraped-data',
  parsedData: 'parsed-data',
  deadLetter: 'dead-letter',
};

/** The scraper's retry policy: in-process tries first, then one delay topic per entry of `delays`. */
export interface ScrapingRetryOptions {
  /** One delay topic per entry, `<tasks topic>.retry.<delay>`. Default `['10s', '1m', '5m']`. */
  delays?: readonly RetryDelay[];
  /** Fetches per round before the task moves on to the next delay topic. Default 2. */
  inProcessAttempts?: number;
  /** In-process backoff before the second try of a round. Default 500 ms. */
  initialDelayMs?: number;
  /** Default 5000 ms. */
  maxDelayMs?: number;
  /** Per-fetch time limit (the fetch's signal is aborted; retriable). Default 15 000 ms. */
  timeoutMs?: number;
  /** In-process jitter. Default `'full'`. */
  jitter?: 'full' | 'none';
  /** Random source for the jitter (tests). */
  random?: () => number;
}

/** Where the fleet remembers message ids. */
export interface ScrapingDedupeOptions {
  /** A store per pipeline (`'scraper'` or `'parser'`). Wins over `redis`. */
  store?: (pipeline: 'scraper' | 'parser') => DedupeStore;
  /** An ioredis client (the caller connects and quits it): ids shared by every instance, kept across restarts. */
  redis?: Redis | Cluster;
  /** Key prefix in Redis; the pipeline's role is appended (`tributary:scraping:scraper:`). */
  prefix?: string;
  /** How long an id is remembered. Default 24 h. */
  ttlMs?: number;
}

export interface ScrapingFleetOptions {
  topics?: Partial<ScrapingTopics>;
  /** Default `'scraper'`; the retry pipelines are `<name>.retry.<delay>`. */
  scraperName?: string;
  /** Default `'scraper-group'` (the seed's). */
  scraperGroupId?: string;
  /** Default `'parser'`. */
  parserName?: string;
  /** Default `'parser-group'`. */
  parserGroupId?: string;
  /** The scraper's external call. Default {@link standInFetch} (deterministic, no network). */
  fetch?: ScrapeFetch;
  retry?: ScrapingRetryOptions;
  dedupe?: ScrapingDedupeOptions;
  /** Bodies are cut to this many bytes (a task's `max_body_bytes` wins). Default 512 KiB. */
  maxBodyBytes?: number;
  /** Timers (backoff, timeouts, the retry topics' due times) and the clock of timestamps. Default asyncScheduler. */
  scheduler?: SchedulerLike;
  /** Default 200 (fetches are slow; records waiting for their turn count). */
  scraperMaxInFlight?: number;
  /** Default 500. */
  parserMaxInFlight?: number;
}

interface Resolved {
  topics: ScrapingTopics;
  scheduler: SchedulerLike;
  now: () => number;
  ttlMs: number;
  storeFor: (pipeline: 'scraper' | 'parser') => DedupeStore;
  retry: RetryViaTopicsOptions & { delays: readonly RetryDelay[] };
}

const DEFAULT_DELAYS: readonly RetryDelay[] = ['10s', '1m', '5m'];

function resolve(options: ScrapingFleetOptions): Resolved {
  const scheduler = options.scheduler ?? asyncScheduler;
  const now = () => scheduler.now();
  const { dedupe: dedupeOptions = {}, retry = {} } = options;
  const prefix = dedupeOptions.prefix ?? 'tributary:scraping:';
  const { redis } = dedupeOptions;
  const storeFor =
    dedupeOptions.store ??
    (redis === undefined
      ? // a new store each time a pipeline (re)starts: ids of records finished before a crash are lost, so their
        // re-delivery is processed again (at-least-once); use Redis to drop those too
        () => memoryDedupeStore({ now })
      : (pipeline: 'scraper' | 'parser') => redisDedupeStore({ client: redis, prefix: `${prefix}${pipeline}:` }));
  return {
    topics: { ...DEFAULT_SCRAPING_TOPICS, ...options.topics },
    scheduler,
    now,
    ttlMs: dedupeOptions.ttlMs ?? 24 * 3600 * 1000,
    storeFor,
    retry: {
      delays: retry.delays ?? DEFAULT_DELAYS,
      inProcessAttempts: retry.inProcessAttempts ?? 2,
      initialDelayMs: retry.initialDelayMs ?? 500,
      maxDelayMs: retry.maxDelayMs ?? 5000,
      timeoutMs: retry.timeoutMs ?? 15_000,
      jitter: retry.jitter ?? 'full',
      scheduler,
      ...(retry.random ? { random: retry.random } : {}),
    },
  };
}

/** The `message-type` header of every message the fleet produces (consumers can route without parsing). */
export function messageTypeHeader(type: string): { 'message-type': string } {
  return { 'message-type': type };
}

/** The scraper: `scraping-tasks` → `scraped-data`, with retries through `<tasks>.retry.<delay>`. */
export function createScraperPipeline(options: ScrapingFleetOptions = {}): Pipeline<ScrapedData> {
  const { topics, now, ttlMs, storeFor, retry } = resolve(options);
  const fetchPage = options.fetch ?? standInFetch();
  const defaultMaxBody = options.maxBodyBytes ?? 512 * 1024;

  const scrape = async (task: ScrapingTask, element: Envelope<ScrapingTask>, { attempt, signal }: RetryAttempt) => {
    const { url, task_id: taskId } = task.payload;
    const maxBodyBytes = task.payload.max_body_bytes ?? defaultMaxBody;
    const attempts = priorAttempts(element) + attempt;
    const started = now();
    const response = await fetchPage(
      { url, taskId, correlationId: element.origin.correlationId, maxBodyBytes },
      { attempt: attempts, round: retryRound(element), signal },
    );
    const { statusCode, contentType } = response;
    if (statusCode < 200 || statusCode > 299) {
      throw new ScrapeError(`HTTP ${statusCode} from ${url}`, { retriable: isTransientStatus(statusCode), statusCode });
    }
    const kind = pageKind(contentType);
    if (kind === undefined) {
      throw new ScrapeError(`unsupported content type "${contentType.slice(0, 100)}" from ${url}`, {
        retriable: false,
        statusCode,
      });
    }
    const body = truncateUtf8(response.body, maxBodyBytes);
    const message: ScrapedData = {
      id: deriveEventId(task.id, 'scraped'),
      type: kind === 'html' ? SCRAPING_MESSAGE_TYPES.scrapedHtml : SCRAPING_MESSAGE_TYPES.scrapedJson,
      correlation_id: element.origin.correlationId,
      causation_id: task.id,
      timestamp: isoTime(now()),
      payload: {
        task_id: taskId,
        url,
        final_url: response.finalUrl ?? url,
        status_code: statusCode,
        content_type: contentType.slice(0, 200),
        body: body.text,
        body_bytes: body.bytes,
        truncated: body.truncated,
        fetched_at: isoTime(now()),
        fetch_ms: now() - started,
        attempts,
      },
    };
    return message;
  };

  return definePipeline({
    name: options.scraperName ?? 'scraper',
    source: { topics: [topics.tasks], groupId: options.scraperGroupId ?? 'scraper-group' },
    deadLetter: { topic: topics.deadLetter },
    maxInFlight: options.scraperMaxInFlight ?? 200,
    // one task of a key at a time, end to end (so a duplicate waits for its original and is dropped); keys run in
    // parallel: key tasks by task id (or by host, to fetch one page of a site at a time)
    ordering: 'key',
    build: (records) =>
      records.pipe(
        parseJson({ name: 'scraper.parse' }),
        validate(ScrapingMessage, { name: 'scraper.validate' }),
        adoptCorrelationId(),
        oneRecordPerLane(),
        dedupe<ScrapingMessage>({ id: messageDedupeId, ttlMs, store: storeFor('scraper'), name: 'scraper.dedupe' }),
        route(
          (element) => element.value.type,
          {
            [SCRAPING_MESSAGE_TYPES.task]: pipe(
              validate(ScrapingTask, { name: 'scraper.validate-task' }),
              retryViaTopics(scrape, { ...retry, name: 'scraper.fetch' }),
              validate(ScrapedData, { name: 'scraper.check-output' }),
              publish(topics.scrapedData, {
                name: 'scraper.publish',
                key: (element) => element.value.payload.task_id,
                headers: (element) => ({
                  ...messageTypeHeader(element.value.type),
                  'correlation-id': element.origin.correlationId,
                }),
              }),
            ),
          },
          { name: 'scraper.route' },
        ),
      ),
  });
}

function parsedMessage(
  message: ScrapedData,
  content: PageContent,
  element: Envelope<ScrapedData>,
  now: () => number,
): ParsedData {
  const { payload } = message;
  return {
    id: deriveEventId(message.id, SCRAPING_MESSAGE_TYPES.parsed),
    type: SCRAPING_MESSAGE_TYPES.parsed,
    correlation_id: element.origin.correlationId,
    causation_id: message.id,
    timestamp: isoTime(now()),
    payload: {
      task_id: payload.task_id,
      url: payload.url,
      final_url: payload.final_url,
      source_type: message.type === SCRAPING_MESSAGE_TYPES.scrapedHtml ? 'html' : 'json',
      title: content.title,
      description: content.description,
      headings: content.headings,
      links: content.links,
      text: content.text,
      word_count: content.wordCount,
    },
  };
}

/** The parser: `scraped-data` → `parsed-data`, routed by message type. */
export function createParserPipeline(options: ScrapingFleetOptions = {}): Pipeline<ParsedData> {
  const { topics, now, ttlMs, storeFor } = resolve(options);
  return definePipeline({
    name: options.parserName ?? 'parser',
    source: { topics: [topics.scrapedData], groupId: options.parserGroupId ?? 'parser-group' },
    deadLetter: { topic: topics.deadLetter },
    maxInFlight: options.parserMaxInFlight ?? 500,
    ordering: 'key',
    build: (records) =>
      records.pipe(
        parseJson({ name: 'parser.parse' }),
        validate(ScrapingMessage, { name: 'parser.validate' }),
        adoptCorrelationId(),
        oneRecordPerLane(),
        dedupe({ id: (element) => element.value.id, ttlMs, store: storeFor('parser'), name: 'parser.dedupe' }),
        route(
          (element) => element.value.type,
          {
            [SCRAPING_MESSAGE_TYPES.scrapedHtml]: pipe(
              validate(ScrapedHtml, { name: 'parser.validate-html' }),
              mapValue(
                (message: ScrapedData, element) =>
                  parsedMessage(message, parseHtmlPage(message.payload.body, message.payload.final_url), element, now),
                { name: 'parser.html' },
              ),
            ),
            [SCRAPING_MESSAGE_TYPES.scrapedJson]: pipe(
              validate(ScrapedJson, { name: 'parser.validate-json' }),
              mapValue(
                (message: ScrapedData, element) =>
                  parsedMessage(message, parseJsonPage(message.payload.body, message.payload.final_url), element, now),
                { name: 'parser.json' },
              ),
            ),
          },
          { name: 'parser.route' },
        ),
        validate(ParsedData, { name: 'parser.check-output' }),
        publish(topics.parsedData, {
          name: 'parser.publish',
          key: (element) => element.value.payload.task_id,
          headers: (element) => ({
            ...messageTypeHeader(element.value.type),
            'correlation-id': element.origin.correlationId,
          }),
        }),
      ),
  });
}

export interface ScrapingFleet {
  scraper: Pipeline<ScrapedData>;
  /** One per distinct delay, in delay order: `<scraper>.retry.<delay>`. */
  scraperRetries: Pipeline<unknown>[];
  parser: Pipeline<ParsedData>;
  /** Every pipeline above: what an engine runs. */
  all: Pipeline<unknown>[];
  /** The delay topics (`<tasks>.retry.<delay>`): create them with the others. */
  retryTopics: string[];
  /** Every topic the fleet reads or writes, as specs for `admin.createTopics`. */
  topicSpecs: TopicSpec[];
}

/** The whole fleet with one set of options: scraper, its retry pipelines and the parser. */
export function createScrapingFleet(options: ScrapingFleetOptions = {}, partitions = 3): ScrapingFleet {
  const { topics, retry, scheduler } = resolve(options);
  const scraper = createScraperPipeline(options);
  const scraperRetries = retryTopicPipelines(scraper, { delays: retry.delays, scheduler });
  const parser = createParserPipeline(options);
  const retryTopics = retryTopicNames([topics.tasks], retry);
  const names = [topics.tasks, ...retryTopics, topics.scrapedData, topics.parsedData, topics.deadLetter];
  return {
    scraper,
    scraperRetries,
    parser,
    all: [scraper, ...scraperRetries, parser],
    retryTopics,
    topicSpecs: names.map((topic) => ({ topic, partitions })),
  };
}

/**
 * A dedupe store on Redis whose client is created on first use (nothing connects when this module is imported);
 * for the default instances, from `SCRAPING_REDIS_URL`.
 */
function lazyRedisStore(url: string, prefix: string): DedupeStore {
  let store: DedupeStore | undefined;
  const get = () => {
    store ??= redisDedupeStore({
      client: new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 2, connectTimeout: 2000 }),
      prefix,
    });
    return store;
  };
  return { seen: (id) => get().seen(id), remember: (id, ttlMs) => get().remember(id, ttlMs) };
}

function defaultFleet(): ScrapingFleet {
  const redisUrl = process.env.SCRAPING_REDIS_URL?.trim();
  if (!redisUrl) return createScrapingFleet();
  const stores = {
    scraper: lazyRedisStore(redisUrl, 'tributary:scraping:scraper:'),
    parser: lazyRedisStore(redisUrl, 'tributary:scraping:parser:'),
  };
  return createScrapingFleet({ dedupe: { store: (pipeline) => stores[pipeline] } });
}

const fleet = defaultFleet();

function retryPipeline(delay: string): Pipeline<unknown> {
  const found = fleet.scraperRetries.find((p) => p.name === `${fleet.scraper.name}.retry.${delay}`);
  if (found === undefined) throw new Error(`no scraper retry pipeline for ${delay}`);
  return found;
}

/** The default instances (`tributary run`, the demo): seed 001's topics and groups. */
export const scraper = fleet.scraper;
export const scraperRetry10s = retryPipeline('10s');
export const scraperRetry1m = retryPipeline('1m');
export const scraperRetry5m = retryPipeline('5m');
export const parser = fleet.parser;

/** The topics the fleet reads and writes, delay topics included (the demo creates them). */
export const topics: TopicSpec[] = fleet.topicSpecs;
