/**
 * The scraping fleet's messages (seed 001: a Go fleet of URL manager → scrapers → parsers on `scraping-tasks`,
 * `scraped-data`, `parsed-data`, with `retry` and `dead-letter` topics). Every message has the same envelope, like the
 * seed's `domain.KafkaMessage`: a unique `id` (the idempotency key: a producer's retry repeats it), a `type` (consumers
 * route on it, as the seed's `RegisterHandler(messageType, handler)` does), an optional `correlation_id` (the
 * `correlation-id` header wins when both are present), a `timestamp` and a type-specific `payload`. Messages the fleet
 * produces also carry `causation_id`, the id of the message they answer, and get ids derived from it, so a
 * re-delivered task produces the same scraped and parsed message ids and the next stage drops the repeat.
 */
import * as z from 'zod';

/** The message types of the fleet. `scraping-tasks`: task; `scraped-data`: html, json; `parsed-data`: parsed. */
export const SCRAPING_MESSAGE_TYPES = {
  task: 'scraping_task',
  scrapedHtml: 'scraped_html',
  scrapedJson: 'scraped_json',
  parsed: 'parsed_data',
} as const;

export type ScrapingMessageType = (typeof SCRAPING_MESSAGE_TYPES)[keyof typeof SCRAPING_MESSAGE_TYPES];

const id = z.string().min(1).max(128);
const timestamp = z.iso.datetime({ offset: true });
const httpUrl = z.url({ protocol: /^https?$/ }).max(2048);

const envelope = {
  id: id.describe('Unique message id (a UUID in the seed); duplicates by id are dropped.'),
  correlation_id: id.optional().describe('Ties every message of one task together; the correlation-id header wins.'),
  timestamp: timestamp.describe('When the message was produced (ISO 8601).'),
};

/**
 * Any fleet message, before routing: the envelope with an unchecked payload. Each route validates its own type.
 * The type is checked for shape only, so an unknown type reaches `route` (and the dead-letter topic, naming it).
 */
export const ScrapingMessage = z.object({
  ...envelope,
  type: z
    .string()
    .regex(/^[a-z][a-z0-9_.-]{0,63}$/, 'a message type such as "scraping_task"')
    .describe('The message type; consumers route on it.'),
  causation_id: id.optional(),
  payload: z.unknown(),
});
export type ScrapingMessage = z.output<typeof ScrapingMessage>;

/** `scraping-tasks` (from the URL manager): fetch one URL. */
export const ScrapingTask = z.object({
  ...envelope,
  type: z.literal(SCRAPING_MESSAGE_TYPES.task),
  payload: z.object({
    task_id: id.describe('The URL manager’s task id; scraped and parsed messages are keyed by it.'),
    url: httpUrl,
    priority: z.enum(['low', 'normal', 'high']).default('normal'),
    /** Larger bodies are cut to this many bytes (and marked `truncated`). */
    max_body_bytes: z
      .number()
      .int()
      .positive()
      .max(4 * 1024 * 1024)
      .optional(),
  }),
});
export type ScrapingTask = z.output<typeof ScrapingTask>;
export type ScrapingTaskInput = z.input<typeof ScrapingTask>;

const scrapedPayload = z.object({
  task_id: id,
  url: httpUrl,
  /** Where the fetch ended up after redirects. */
  final_url: httpUrl,
  status_code: z.number().int().min(200).max(299),
  content_type: z.string().min(1).max(200),
  body: z.string(),
  /** Size of `body` in UTF-8 bytes. */
  body_bytes: z.number().int().nonnegative(),
  truncated: z.boolean(),
  fetched_at: timestamp,
  /** Duration of the successful fetch. */
  fetch_ms: z.number().nonnegative(),
  /** Fetches made for this task, every retry round included. */
  attempts: z.number().int().positive(),
});
export type ScrapedPayload = z.output<typeof scrapedPayload>;

const answer = {
  ...envelope,
  correlation_id: id,
  causation_id: id.describe('The id of the message this one answers.'),
};

/** `scraped-data` (from the scrapers): a fetched HTML page. */
export const ScrapedHtml = z.object({
  ...answer,
  type: z.literal(SCRAPING_MESSAGE_TYPES.scrapedHtml),
  payload: scrapedPayload,
});
/** `scraped-data` (from the scrapers): a fetched JSON document (an API response). */
export const ScrapedJson = z.object({
  ...answer,
  type: z.literal(SCRAPING_MESSAGE_TYPES.scrapedJson),
  payload: scrapedPayload,
});
/** Either kind of `scraped-data` message. */
export const ScrapedData = z.discriminatedUnion('type', [ScrapedHtml, ScrapedJson]);
export type ScrapedData = z.output<typeof ScrapedData>;

/** `parsed-data` (from the parsers): the structured content of one page. */
export const ParsedData = z.object({
  ...answer,
  type: z.literal(SCRAPING_MESSAGE_TYPES.parsed),
  payload: z.object({
    task_id: id,
    url: httpUrl,
    final_url: httpUrl,
    source_type: z.enum(['html', 'json']),
    title: z.string().max(500).nullable(),
    description: z.string().max(1000).nullable(),
    headings: z.array(z.string().max(300)).max(50),
    /** Absolute http(s) links, in document order, without repeats. */
    links: z.array(httpUrl).max(200),
    /** The visible text, whitespace collapsed, cut to 2000 characters. */
    text: z.string().max(2000),
    word_count: z.number().int().nonnegative(),
  }),
});
export type ParsedData = z.output<typeof ParsedData>;
