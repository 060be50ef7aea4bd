/**
 * What the scraping fleet's pipelines share: the pluggable fetch (a deterministic stand-in by default, or real HTTP),
 * the errors that decide between a retry and the dead-letter topic, the page parsers (HTML and JSON, no
 * dependencies), and the correlation-id and idempotency-id rules.
 */
import { createHash } from 'node:crypto';
import { firstValueFrom, type MonoTypeOperatorFunction, map, type SchedulerLike, timer } from 'rxjs';
import { type Element, type Envelope, RETRY_HEADERS, readTextHeader } from '../../src/index.js';

// ---------------------------------------------------------------------------------------------------------------
// Fetching

/** What the scraper asks its fetch function for. */
export interface FetchRequest {
  readonly url: string;
  readonly taskId: string;
  readonly correlationId: string;
  /** The body is cut to this many bytes afterwards; a fetcher may stop reading after it. */
  readonly maxBodyBytes: number;
}

/** Which try this is and how to give up. */
export interface FetchContext {
  /** 1 for the first fetch of a task, counting every retry round (the main topic and each delay topic). */
  readonly attempt: number;
  /** The retry round: 0 on `scraping-tasks`, 1 on the first delay topic, ... */
  readonly round: number;
  /** Aborted when the attempt times out: pass it to the HTTP client. */
  readonly signal: AbortSignal;
}

/** A response, whatever its status: the scraper decides what a status means. */
export interface FetchResponse {
  readonly statusCode: number;
  /** The `content-type` header (`text/html; charset=utf-8`). */
  readonly contentType: string;
  readonly body: string;
  /** Where redirects ended. Default: the requested URL. */
  readonly finalUrl?: string;
}

/** The scraper's external call. Throw (or reject) for network trouble; a thrown error's `retriable` decides. */
export type ScrapeFetch = (request: FetchRequest, context: FetchContext) => Promise<FetchResponse>;

/**
 * A failed fetch. `retriable: true` (a 503, a 429, a reset connection) sends the task through the retry topics;
 * `false` (a 404, an unsupported content type, a host that does not exist) sends it to the dead-letter topic at once.
 */
export class ScrapeError extends Error {
  override name = 'ScrapeError';
  readonly retriable: boolean;
  readonly statusCode: number | undefined;
  constructor(message: string, options: { retriable: boolean; statusCode?: number; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.retriable = options.retriable;
    this.statusCode = options.statusCode;
  }
}

/** Statuses worth asking again for: timeouts, rate limits, server errors. */
export function isTransientStatus(statusCode: number): boolean {
  return statusCode === 408 || statusCode === 425 || statusCode === 429 || (statusCode >= 500 && statusCode <= 599);
}

/** The kind of page a content type is, or undefined when the parsers cannot read it. */
export function pageKind(contentType: string): 'html' | 'json' | undefined {
  const mime = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  if (mime === 'text/html' || mime === 'application/xhtml+xml') return 'html';
  if (mime === 'application/json' || mime.endsWith('+json')) return 'json';
  return undefined;
}

/** `text` cut to at most `maxBytes` UTF-8 bytes, never inside a character. */
export function truncateUtf8(text: string, maxBytes: number): { text: string; bytes: number; truncated: boolean } {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes <= maxBytes) return { text, bytes, truncated: false };
  let cut = Buffer.from(text, 'utf8').subarray(0, maxBytes).toString('utf8');
  // a character cut in half decodes as U+FFFD: drop it
  if (cut.endsWith('\uFFFD')) cut = cut.slice(0, -1);
  return { text: cut, bytes: Buffer.byteLength(cut, 'utf8'), truncated: true };
}

const STAND_IN_WORDS = [
  'kafka',
  'stream',
  'partition',
  'offset',
  'consumer',
  'scraper',
  'parser',
  'crawler',
  'market',
  'price',
  'report',
  'weather',
  'football',
  'recipe',
  'travel',
  'science',
  'history',
  'review',
  'the',
  'a',
  'of',
  'and',
  'today',
  'new',
];

function seeded(text: string): () => number {
  let state = createHash('sha256').update(text).digest().readUInt32BE(0);
  return () => {
    state = (state * 1_103_515_245 + 12_345) >>> 0;
    return state / 2 ** 32;
  };
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export interface StandInFetchOptions {
  /** Simulated response time on `scheduler`. Default 0 (answers on the next microtask). */
  latencyMs?: number;
  /** Where the latency is waited. Default: RxJS's asyncScheduler. */
  scheduler?: SchedulerLike;
}

/**
 * A deterministic stand-in for the web: the answer depends only on the URL and the attempt, so tests and the demo run
 * anywhere. Markers in the URL simulate what real sites do:
 *
 * - a path ending in `.json`: a JSON document (`application/json`) with `title`, `description` and `links`;
 * - `fail=N` in the query: the first N attempts (counted across retry rounds) fail with a transient HTTP 503;
 * - `status=NNN`: answers with that status (404 → dead letter; 429 or 5xx → retried every time);
 * - `type=<mime>` (`type=image/png`): answers with that content type (not html/json → dead letter);
 * - a host ending in `.invalid`: the name does not resolve (permanent);
 * - anything else: an HTML page with a title, a description, headings, text and links derived from the URL.
 */
export function standInFetch(options: StandInFetchOptions = {}): ScrapeFetch {
  const { latencyMs = 0, scheduler } = options;
  return async (request, { attempt, signal }) => {
    if (latencyMs > 0) await firstValueFrom(scheduler ? timer(latencyMs, scheduler) : timer(latencyMs));
    if (signal.aborted) throw new ScrapeError('fetch aborted', { retriable: true });
    const url = new URL(request.url);
    if (url.hostname.endsWith('.invalid')) {
      throw new ScrapeError(`getaddrinfo ENOTFOUND ${url.hostname}`, { retriable: false });
    }
    const failures = Number(url.searchParams.get('fail') ?? '0');
    if (Number.isInteger(failures) && attempt <= failures) {
      throw new ScrapeError(`HTTP 503 Service Unavailable from ${url.host} (attempt ${attempt})`, {
        retriable: true,
        statusCode: 503,
      });
    }
    const status = Number(url.searchParams.get('status') ?? '200');
    const type = url.searchParams.get('type');
    if (status !== 200 || type !== null) {
      return { statusCode: status, contentType: type ?? 'text/plain', body: `status ${status}` };
    }
    const random = seeded(url.href);
    const words = (n: number) =>
      Array.from({ length: n }, () => STAND_IN_WORDS[Math.floor(random() * STAND_IN_WORDS.length)]).join(' ');
    const slug = url.pathname.replace(/\.json$/, '').replace(/^\/+|\/+$/g, '') || 'home';
    const title = `${slug} | ${url.hostname}`;
    const description = `About ${slug}: ${words(8)}`;
    const links = [1, 2, 3].map((i) => new URL(`/${slug}/${i}`, url).href);
    if (url.pathname.endsWith('.json')) {
      const body = JSON.stringify({ title, description, items: [{ text: words(12) }, { text: words(12) }], links });
      return { statusCode: 200, contentType: 'application/json', body };
    }
    const body = [
      '<!doctype html><html><head>',
      `<title>${escapeHtml(title)}</title>`,
      `<meta name="description" content="${escapeHtml(description)}">`,
      '<style>body { font-family: sans-serif }</style></head><body>',
      `<h1>${escapeHtml(slug)}</h1><p>${words(30)}</p>`,
      `<h2>More</h2><p>${words(20)} &amp; ${words(5)}</p>`,
      '<script>window.tracking = "not text";</script>',
      ...links.map((href, i) => `<a href="${escapeHtml(new URL(href).pathname)}">link ${i + 1}</a>`),
      `<a href="${escapeHtml(url.pathname)}#top">top</a><a href="mailto:team@example.com">mail</a>`,
      '</body></html>',
    ].join('\n');
    return { statusCode: 200, contentType: 'text/html; charset=utf-8', body };
  };
}

export interface HttpFetchOptions {
  /** The `user-agent` header. Default `tributary-scraper/0.1`. */
  userAgent?: string;
}

/**
 * Real HTTP with Node's `fetch` (redirects followed, the attempt's signal passed on, at most `maxBodyBytes` + 4 bytes
 * read). A network error is retriable; the scraper judges the status.
 */
export function httpFetch(options: HttpFetchOptions = {}): ScrapeFetch {
  const { userAgent = 'tributary-scraper/0.1' } = options;
  return async (request, { signal }) => {
    let response: Response;
    try {
      response = await fetch(request.url, {
        signal,
        redirect: 'follow',
        headers: {
          'user-agent': userAgent,
          accept: 'text/html,application/xhtml+xml,application/json;q=0.9,*/*;q=0.1',
        },
      });
    } catch (error) {
      throw new ScrapeError(`fetch ${request.url} failed: ${error instanceof Error ? error.message : String(error)}`, {
        retriable: true,
        cause: error,
      });
    }
    const limit = request.maxBodyBytes + 4;
    const chunks: Buffer[] = [];
    let size = 0;
    if (response.body) {
      const reader = response.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(Buffer.from(value));
        size += value.byteLength;
        if (size >= limit) {
          await reader.cancel();
          break;
        }
      }
    }
    return {
      statusCode: response.status,
      contentType: response.headers.get('content-type') ?? '',
      body: Buffer.concat(chunks).subarray(0, limit).toString('utf8'),
      finalUrl: response.url || request.url,
    };
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Parsing

/** What a parser extracts from a page. */
export interface PageContent {
  title: string | null;
  description: string | null;
  headings: string[];
  links: string[];
  text: string;
  wordCount: number;
}

const MAX_LINKS = 200;
const MAX_HEADINGS = 50;
const MAX_TEXT = 2000;

const NAMED_ENTITIES: Readonly<Record<string, string>> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: ' ',
};

/** Decodes the HTML entities pages use most (named basics, decimal and hex). Unknown ones stay as they are. */
export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]{1,6}|#[0-9]{1,7}|[a-z]{2,8});/gi, (whole, entity: string) => {
    if (entity[0] === '#') {
      const code =
        entity[1] === 'x' || entity[1] === 'X' ? Number.parseInt(entity.slice(2), 16) : Number(entity.slice(1));
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return NAMED_ENTITIES[entity.toLowerCase()] ?? whole;
  });
}

const collapse = (text: string) => text.replace(/\s+/g, ' ').trim();
const cut = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);
const innerText = (html: string) => collapse(decodeEntities(html.replace(/<[^>]*>/g, ' ')));

function attributes(tag: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const match of tag.matchAll(/([a-zA-Z_:][-a-zA-Z0-9_:.]*)\s*=\s*("([^"]*)"|'([^']*)'|([^\s"'>]+))/g)) {
    const name = match[1]?.toLowerCase();
    const value = match[3] ?? match[4] ?? match[5] ?? '';
    if (name !== undefined && !found.has(name)) found.set(name, decodeEntities(value));
  }
  return found;
}

/** An absolute http(s) URL without its fragment, or undefined. */
function absoluteLink(href: string, base: string): string | undefined {
  try {
    const url = new URL(href.trim(), base);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
    url.hash = '';
    return url.href.length <= 2048 ? url.href : undefined;
  } catch {
    return undefined;
  }
}

function addLink(links: string[], seen: Set<string>, link: string | undefined): void {
  if (link === undefined || seen.has(link) || links.length >= MAX_LINKS) return;
  seen.add(link);
  links.push(link);
}

/**
 * Reads an HTML page with regular expressions (no DOM): `<title>`, the description (`<meta name="description">` or
 * `og:description`), `<h1>`–`<h3>`, links (`<a href>`, made absolute against `baseUrl`, http(s) only, fragments
 * dropped, no repeats) and the visible text (scripts, styles and comments removed). Never throws.
 */
export function parseHtmlPage(html: string, baseUrl: string): PageContent {
  const clean = html
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .replace(/<(script|style|noscript|template)\b[^>]*>[\s\S]*?<\/\1\s*>/gi, ' ');
  const titleMatch = /<title\b[^>]*>([\s\S]*?)<\/title\s*>/i.exec(clean);
  const title = titleMatch?.[1] === undefined ? '' : innerText(titleMatch[1]);
  let description: string | null = null;
  for (const meta of clean.matchAll(/<meta\b[^>]*>/gi)) {
    const attrs = attributes(meta[0]);
    const name = (attrs.get('name') ?? attrs.get('property') ?? '').toLowerCase();
    const content = attrs.get('content');
    if ((name === 'description' || name === 'og:description') && content !== undefined && collapse(content) !== '') {
      description = cut(collapse(content), 1000);
      if (name === 'description') break;
    }
  }
  const headings: string[] = [];
  for (const match of clean.matchAll(/<h([1-3])\b[^>]*>([\s\S]*?)<\/h\1\s*>/gi)) {
    const text = innerText(match[2] ?? '');
    if (text !== '' && headings.length < MAX_HEADINGS) headings.push(cut(text, 300));
  }
  const links: string[] = [];
  const seen = new Set<string>();
  for (const anchor of clean.matchAll(/<a\b[^>]*>/gi)) {
    const href = attributes(anchor[0]).get('href');
    if (href !== undefined) addLink(links, seen, absoluteLink(href, baseUrl));
  }
  const bodyMatch = /<body\b[^>]*>([\s\S]*)<\/body\s*>/i.exec(clean);
  const text = innerText(bodyMatch?.[1] ?? clean.replace(/<head\b[\s\S]*?<\/head\s*>/i, ' '));
  return {
    title: title === '' ? null : cut(title, 500),
    description,
    headings,
    links,
    text: cut(text, MAX_TEXT),
    wordCount: text === '' ? 0 : text.split(' ').length,
  };
}

/** A JSON document that is not JSON (or not an object or array): permanent, the page will not change on a retry. */
export class UnparseablePageError extends Error {
  override name = 'UnparseablePageError';
  readonly retriable = false;
}

/**
 * Reads a JSON document (an API response): `title` (or `name`, `headline`) and `description` (or `summary`) from
 * the top-level object, every absolute http(s) URL among the string values as a link (relative ones are resolved
 * when the key is `url`, `href` or `link`), and the other strings as text. At most 10 levels and 10 000 values are
 * read. Throws {@link UnparseablePageError} when the body is not a JSON object or array.
 */
export function parseJsonPage(body: string, baseUrl: string): PageContent {
  let document: unknown;
  try {
    document = JSON.parse(body);
  } catch (error) {
    throw new UnparseablePageError(`not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (typeof document !== 'object' || document === null) {
    throw new UnparseablePageError(`a JSON ${document === null ? 'null' : typeof document}, not an object or array`);
  }
  const top = Array.isArray(document) ? {} : (document as Record<string, unknown>);
  const firstString = (...keys: string[]) => {
    for (const key of keys) {
      const value = top[key];
      if (typeof value === 'string' && collapse(value) !== '') return collapse(value);
    }
    return null;
  };
  const title = firstString('title', 'name', 'headline');
  const description = firstString('description', 'summary');
  const links: string[] = [];
  const seen = new Set<string>();
  const texts: string[] = [];
  let budget = 10_000;
  const walk = (value: unknown, key: string, depth: number): void => {
    if (budget-- <= 0 || depth > 10) return;
    if (typeof value === 'string') {
      const isAbsolute = /^https?:\/\//i.test(value);
      if (isAbsolute || ['url', 'href', 'link'].includes(key)) {
        addLink(links, seen, absoluteLink(value, baseUrl));
      } else if (value.trim() !== '') {
        texts.push(collapse(value));
      }
      return;
    }
    if (Array.isArray(value)) {
      for (const item of value) walk(item, key, depth + 1);
      return;
    }
    if (typeof value === 'object' && value !== null) {
      for (const [k, v] of Object.entries(value)) walk(v, k.toLowerCase(), depth + 1);
    }
  };
  walk(document, '', 0);
  const text = texts.join(' ');
  return {
    title: title === null ? null : cut(title, 500),
    description: description === null ? null : cut(description, 1000),
    headings: [],
    links,
    text: cut(text, MAX_TEXT),
    wordCount: text === '' ? 0 : text.split(' ').length,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Correlation and idempotency

/**
 * Makes the message's `correlation_id` the record's correlation id when the record has no `correlation-id` header:
 * the origin's `correlationId` (logs, the output's header) and its headers (so retry and dead-letter records carry it
 * as a header from here on). A header present wins over the body.
 */
export function adoptCorrelationId<
  T extends { readonly correlation_id?: string | undefined },
>(): MonoTypeOperatorFunction<Element<T>> {
  return map((element: Element<T>): Element<T> => {
    if (!element.ok) return element;
    const fromBody = element.value.correlation_id;
    if (fromBody === undefined || readTextHeader(element.origin.headers['correlation-id']) !== undefined) {
      return element;
    }
    return {
      ...element,
      origin: {
        ...element.origin,
        correlationId: fromBody,
        headers: { ...element.origin.headers, 'correlation-id': fromBody },
      },
    };
  });
}

/** The delay-topic round of a record (0 when it is not a retry record). */
export function retryRound(element: Element<unknown>): number {
  const text = readTextHeader(element.origin.headers[RETRY_HEADERS.attempt])?.trim();
  return text !== undefined && /^\d{1,9}$/.test(text) ? Number(text) : 0;
}

/** Tries made in earlier retry rounds (the `tributary-attempts` header of a retry record; 0 otherwise). */
export function priorAttempts(element: Element<unknown>): number {
  if (retryRound(element) === 0) return 0;
  const text = readTextHeader(element.origin.headers[RETRY_HEADERS.attempts])?.trim();
  return text !== undefined && /^\d{1,9}$/.test(text) ? Number(text) : 0;
}

/**
 * The idempotency id of a fleet message: its `id` on the main topic, `<id>#retry-<round>` on a delay topic. A task
 * forwarded to a delay topic has succeeded as far as the main topic is concerned (its id is remembered, so a copy
 * arriving later is dropped); its retry record is a different step with an id of its own, so it is not dropped as
 * a duplicate of itself, and a re-delivered retry record is.
 */
export function messageDedupeId(element: Envelope<{ readonly id: string }>): string {
  const round = retryRound(element);
  return round === 0 ? element.value.id : `${element.value.id}#retry-${round}`;
}
