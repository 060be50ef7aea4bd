import { afterEach, describe, expect, it } from 'vitest';
import {
  type FetchContext,
  type FetchRequest,
  type ScrapeFetch,
  standInFetch,
} from '../../../pipelines/lib/scraping.js';
import { ParsedData, ScrapedData, type ScrapingTaskInput } from '../../../pipelines/schemas/scraping.js';
import { createScrapingFleet, type ScrapingFleetOptions } from '../../../pipelines/scraping.js';
import { memoryDedupeStore, RETRY_HEADERS } from '../../../src/index.js';
import { createTestDriver, type TestDriver } from '../../../src/testing/index.js';

const T0 = '2024-01-01T00:00:00.000Z';
const TASKS = 'scraping-tasks';
const SCRAPED = 'scraped-data';
const PARSED = 'parsed-data';

let seq = 0;
function task(url: string, overrides: Partial<ScrapingTaskInput> = {}): ScrapingTaskInput {
  const n = ++seq;
  return {
    id: `msg-${n}`,
    type: 'scraping_task',
    timestamp: T0,
    payload: { task_id: `task-${n}`, url },
    ...overrides,
  };
}

const drivers: TestDriver[] = [];
afterEach(async () => {
  for (const d of drivers.splice(0)) await d.close();
});

interface Call {
  url: string;
  attempt: number;
  round: number;
  at: number;
  correlationId: string;
}

/** A driver running the whole fleet on its clock; fast retries: in process once, then 1 s and 2 s delay topics. */
function fleetDriver(options: Partial<ScrapingFleetOptions> = {}) {
  const calls: Call[] = [];
  const driver = createTestDriver(({ scheduler }) => {
    const inner: ScrapeFetch = options.fetch ?? standInFetch();
    const recording: ScrapeFetch = (request: FetchRequest, context: FetchContext) => {
      calls.push({
        url: request.url,
        attempt: context.attempt,
        round: context.round,
        at: scheduler.now(),
        correlationId: request.correlationId,
      });
      return inner(request, context);
    };
    return createScrapingFleet({
      scheduler,
      ...options,
      retry: { delays: ['1s', '2s'], inProcessAttempts: 1, jitter: 'none', ...options.retry },
      fetch: recording,
    }).all;
  });
  drivers.push(driver);
  const send = (value: unknown, opts: { key?: string; headers?: Record<string, string> } = {}) =>
    driver.inputTopic(TASKS).pipeInput({ key: opts.key ?? null, value, headers: opts.headers ?? {} });
  return { driver, calls, send };
}

describe('scraping fleet (scraping-tasks → scraped-data → parsed-data)', () => {
  it('scrapes a page and parses it, keyed by task id, with the correlation id and message types as headers', async () => {
    const { driver, send } = fleetDriver();
    const t = task('https://news.example.com/kafka/intro');
    send(t, { key: t.payload.task_id, headers: { 'correlation-id': 'corr-1' } });
    await driver.settle();

    const [scraped] = driver.outputTopic(SCRAPED, { schema: ScrapedData }).readRecords();
    expect(scraped?.key).toBe(t.payload.task_id);
    expect(scraped?.headers).toMatchObject({ 'correlation-id': 'corr-1', 'message-type': 'scraped_html' });
    expect(scraped?.value).toMatchObject({
      type: 'scraped_html',
      correlation_id: 'corr-1',
      causation_id: t.id,
      payload: {
        task_id: t.payload.task_id,
        url: t.payload.url,
        final_url: t.payload.url,
        status_code: 200,
        content_type: 'text/html; charset=utf-8',
        truncated: false,
        attempts: 1,
      },
    });
    expect(scraped?.value.payload.body).toContain('<title>kafka/intro | news.example.com</title>');

    const [parsed] = driver.outputTopic(PARSED, { schema: ParsedData }).readRecords();
    expect(parsed?.key).toBe(t.payload.task_id);
    expect(parsed?.headers).toMatchObject({ 'correlation-id': 'corr-1', 'message-type': 'parsed_data' });
    const page = parsed?.value.payload;
    expect(parsed?.value.causation_id).toBe(scraped?.value.id);
    expect(parsed?.value.correlation_id).toBe('corr-1');
    expect(page?.source_type).toBe('html');
    expect(page?.title).toBe('kafka/intro | news.example.com');
    expect(page?.description).toMatch(/^About kafka\/intro: /);
    expect(page?.headings).toEqual(['kafka/intro', 'More']);
    // relative links made absolute, the page itself without its fragment, mailto dropped
    expect(page?.links).toEqual([
      'https://news.example.com/kafka/intro/1',
      'https://news.example.com/kafka/intro/2',
      'https://news.example.com/kafka/intro/3',
      'https://news.example.com/kafka/intro',
    ]);
    expect(page?.text).not.toContain('tracking'); // the script is not text
    expect(page?.text).toContain(' & '); // entities decoded
    expect(page?.word_count).toBeGreaterThan(50);

    expect(driver.deadLetterTopic().isEmpty()).toBe(true);
    const committed = driver.committedOffsets().map((c) => `${c.pipeline} ${c.topic} ${c.offset}`);
    expect(committed).toEqual(expect.arrayContaining(['scraper scraping-tasks 1', 'parser scraped-data 1']));
  });

  it('parses JSON documents through the json route', async () => {
    const { driver, send } = fleetDriver();
    send(task('https://api.example.com/v1/products.json'));
    await driver.settle();
    const [scraped] = driver.outputTopic(SCRAPED, { schema: ScrapedData }).readValues();
    expect(scraped?.type).toBe('scraped_json');
    const [parsed] = driver.outputTopic(PARSED, { schema: ParsedData }).readValues();
    expect(parsed?.payload).toMatchObject({
      source_type: 'json',
      title: 'v1/products | api.example.com',
      headings: [],
      links: [1, 2, 3].map((i) => `https://api.example.com/v1/products/${i}`),
    });
    expect(parsed?.payload.word_count).toBe(37); // title (3) + description (10) + two items of 12 words
  });

  it('routes by message type: a type no stage handles is dead-lettered, naming it', async () => {
    const { driver, send } = fleetDriver();
    send({ ...task('https://example.com/a'), type: 'scraping_cancel' });
    driver.inputTopic(SCRAPED).pipeInput({
      key: 't1',
      value: { id: 'm1', type: 'scraped_pdf', timestamp: T0, correlation_id: 'c1', payload: {} },
    });
    await driver.settle();
    const dead = driver.deadLetterTopic('dead-letter').readDeadLetters();
    expect(dead.map((d) => [d.pipeline, d.stage, d.errorCode, d.exceptionMessage])).toEqual([
      [
        'scraper',
        'scraper.route',
        'TRIBUTARY_ERR_VALIDATION',
        'no route for "scraping_cancel"; known routes: "scraping_task"',
      ],
      [
        'parser',
        'parser.route',
        'TRIBUTARY_ERR_VALIDATION',
        'no route for "scraped_pdf"; known routes: "scraped_html", "scraped_json"',
      ],
    ]);
    expect(driver.outputTopic(SCRAPED).size).toBe(1); // only the piped one
    expect(driver.outputTopic(PARSED).isEmpty()).toBe(true);
    expect(driver.committable(TASKS, 'scraper')).toEqual(new Map([[0, 1n]]));
  });

  it('dead-letters records it cannot read, with the original bytes and the reason', async () => {
    const { driver } = fleetDriver();
    const input = driver.inputTopic(TASKS);
    input.pipeInput({ key: 'k1', value: '{"id":"x","type":"scraping_task",' });
    input.pipeInput({ key: 'k2', value: null });
    input.pipeInput({ key: 'k3', value: { ...task('ftp://files.example.com/a') } });
    input.pipeInput({ key: 'k4', value: { id: 'm', timestamp: T0, payload: {} } });
    input.pipeInput({
      key: 'k5',
      value: { ...task('https://example.com/x'), payload: { url: 'https://example.com/x' } },
    });
    input.pipeInput({ key: 'k6', value: Buffer.from([0xff, 0xfe]) });
    await driver.settle();
    // different keys are different lanes: they finish in any order
    const dead = driver
      .deadLetterTopic()
      .readDeadLetters()
      .sort((a, b) => (a.key ?? '').localeCompare(b.key ?? ''));
    expect(dead.map((d) => [d.key, d.stage, d.errorCode])).toEqual([
      ['k1', 'scraper.parse', 'TRIBUTARY_ERR_PARSE'],
      ['k2', 'scraper.parse', 'TRIBUTARY_ERR_PARSE'],
      ['k3', 'scraper.validate-task', 'TRIBUTARY_ERR_VALIDATION'],
      ['k4', 'scraper.validate', 'TRIBUTARY_ERR_VALIDATION'],
      ['k5', 'scraper.validate-task', 'TRIBUTARY_ERR_VALIDATION'],
      ['k6', 'scraper.parse', 'TRIBUTARY_ERR_PARSE'],
    ]);
    expect(dead[0]?.rawValue?.toString()).toBe('{"id":"x","type":"scraping_task",');
    expect(dead[2]?.exceptionMessage).toContain('payload.url');
    expect(dead[3]?.exceptionMessage).toContain('type');
    expect(dead[4]?.exceptionMessage).toContain('payload.task_id');
    expect(dead.every((d) => d.originalTopic === TASKS && d.originalConsumerGroup === 'scraper-group')).toBe(true);
    expect(driver.outputTopic(SCRAPED).isEmpty()).toBe(true);
    expect(driver.committable(TASKS, 'scraper')).toEqual(new Map([[0, 6n]]));
  });

  it('retries a failing fetch through the delay topics without holding the partition, then publishes', async () => {
    const { driver, calls, send } = fleetDriver();
    const start = driver.now();
    const flaky = task('https://shop.example.com/item/7?fail=2');
    send(flaky, { key: 'same', headers: { 'correlation-id': 'corr-flaky' } });
    send(task('https://shop.example.com/item/8'), { key: 'same' }); // same key, behind it
    await driver.settle();

    // attempt 1 failed: the task went to the 1 s delay topic, the next task of the key went ahead
    const retry1 = driver.outputTopic('scraping-tasks.retry.1s', { decode: 'bytes' }).readRecords();
    expect(retry1).toHaveLength(1);
    expect(retry1[0]?.headers).toMatchObject({
      'correlation-id': 'corr-flaky',
      [RETRY_HEADERS.attempt]: '1',
      [RETRY_HEADERS.delay]: '1s',
      [RETRY_HEADERS.attempts]: '1',
      [RETRY_HEADERS.due]: String(start + 1000),
      [RETRY_HEADERS.originalTopic]: TASKS,
    });
    expect(retry1[0]?.headers[RETRY_HEADERS.reason]).toMatch(/^HTTP 503 Service Unavailable/);
    expect(retry1[0]?.rawValue?.toString()).toBe(JSON.stringify(flaky)); // the original bytes
    expect(
      driver
        .outputTopic(SCRAPED, { schema: ScrapedData })
        .readValues()
        .map((s) => s.payload.url),
    ).toEqual(['https://shop.example.com/item/8']);
    expect(driver.committable(TASKS, 'scraper')).toEqual(new Map([[0, 2n]]));

    await driver.advanceTime(1000); // round 1 fails again → the 2 s topic
    expect(driver.outputTopic('scraping-tasks.retry.2s', { decode: 'bytes' }).readRecords()).toHaveLength(1);
    expect(driver.outputTopic(SCRAPED).isEmpty()).toBe(true);
    await driver.advanceTime(1999);
    expect(driver.outputTopic(SCRAPED).isEmpty()).toBe(true); // not due yet
    await driver.advanceTime(1);

    const [scraped] = driver.outputTopic(SCRAPED, { schema: ScrapedData }).readRecords();
    expect(scraped?.value.payload).toMatchObject({ url: flaky.payload.url, attempts: 3 });
    expect(scraped?.value.correlation_id).toBe('corr-flaky');
    expect(scraped?.headers['correlation-id']).toBe('corr-flaky');
    expect(
      calls.filter((c) => c.url === flaky.payload.url).map((c) => [c.attempt, c.round, c.at - start, c.correlationId]),
    ).toEqual([
      [1, 0, 0, 'corr-flaky'],
      [2, 1, 1000, 'corr-flaky'],
      [3, 2, 3000, 'corr-flaky'],
    ]);
    const [parsed] = driver.outputTopic(PARSED, { schema: ParsedData }).readRecords().slice(-1);
    expect(parsed?.headers['correlation-id']).toBe('corr-flaky');
    expect(driver.deadLetterTopic().isEmpty()).toBe(true);
    const committed = driver.committedOffsets().map((c) => `${c.pipeline} ${c.topic} ${c.offset}`);
    expect(committed).toEqual(
      expect.arrayContaining([
        'scraper scraping-tasks 2',
        'scraper.retry.1s scraping-tasks.retry.1s 1',
        'scraper.retry.2s scraping-tasks.retry.2s 1',
        'parser scraped-data 2',
      ]),
    );
  });

  it('retries in process first when inProcessAttempts > 1', async () => {
    const { driver, calls, send } = fleetDriver({ retry: { inProcessAttempts: 2, initialDelayMs: 500 } });
    const start = driver.now();
    send(task('https://shop.example.com/item/9?fail=1'));
    await driver.settle();
    expect(driver.outputTopic(SCRAPED).isEmpty()).toBe(true);
    await driver.advanceTime(500);
    const [scraped] = driver.outputTopic(SCRAPED, { schema: ScrapedData }).readValues();
    expect(scraped?.payload.attempts).toBe(2);
    expect(calls.map((c) => [c.attempt, c.round, c.at - start])).toEqual([
      [1, 0, 0],
      [2, 0, 500],
    ]);
    expect(driver.outputTopic('scraping-tasks.retry.1s').isEmpty()).toBe(true);
  });

  it('dead-letters a task that still fails after the last delay topic, every attempt counted', async () => {
    const { driver, send } = fleetDriver();
    const down = task('https://down.example.com/?status=503');
    send(down, { key: 'k', headers: { 'correlation-id': 'corr-down' } });
    await driver.flush();
    const [dead] = driver.deadLetterTopic().readDeadLetters();
    expect(dead).toMatchObject({
      key: 'k',
      pipeline: 'scraper.retry.2s',
      stage: 'scraper.fetch',
      attempts: 3,
      originalTopic: TASKS, // the record the user produced, not its copy in the delay topic
      originalOffset: 0n,
      errorCode: 'TRIBUTARY_ERR_PROCESSING',
    });
    expect(dead?.exceptionMessage).toBe(`failed after 3 attempts (2 retry topics): HTTP 503 from ${down.payload.url}`);
    expect(dead?.headers['correlation-id']).toBe('corr-down');
    expect(dead?.rawValue?.toString()).toBe(JSON.stringify(down));
    expect(driver.outputTopic(SCRAPED).isEmpty()).toBe(true);
  });

  it('by default tries twice in each of four rounds: the main topic and the 10 s, 1 m and 5 m delay topics', async () => {
    const driver = createTestDriver(({ scheduler }) => {
      const fleet = createScrapingFleet({ scheduler, retry: { random: () => 1 - Number.EPSILON } });
      expect(fleet.retryTopics).toEqual([
        'scraping-tasks.retry.10s',
        'scraping-tasks.retry.1m',
        'scraping-tasks.retry.5m',
      ]);
      return fleet.all;
    });
    drivers.push(driver);
    const start = driver.now();
    driver.inputTopic(TASKS).pipeInput({ key: 'k', value: task('https://down.example.com/?status=500') });
    await driver.flush();
    const [dead] = driver.deadLetterTopic().readDeadLetters();
    expect(dead).toMatchObject({ pipeline: 'scraper.retry.5m', stage: 'scraper.fetch', attempts: 8 });
    expect(dead?.exceptionMessage).toMatch(/^failed after 8 attempts \(3 retry topics\): HTTP 500 from /);
    // 10 s + 1 m + 5 m of delays, plus four in-process waits of up to 500 ms
    expect(driver.now() - start).toBeGreaterThanOrEqual(370_000);
    expect(driver.now() - start).toBeLessThan(372_100);
  });

  it('dead-letters permanent failures at once (404, unsupported content, unknown host)', async () => {
    const { driver, calls, send } = fleetDriver();
    send(task('https://example.com/gone?status=404'));
    send(task('https://example.com/logo.png?type=image/png'));
    send(task('https://nowhere.invalid/page'));
    await driver.flush();
    const dead = driver.deadLetterTopic().readDeadLetters();
    expect(dead.map((d) => [d.stage, d.attempts, d.exceptionMessage])).toEqual([
      ['scraper.fetch', 1, 'failed after 1 attempt: HTTP 404 from https://example.com/gone?status=404'],
      [
        'scraper.fetch',
        1,
        'failed after 1 attempt: unsupported content type "image/png" from https://example.com/logo.png?type=image/png',
      ],
      ['scraper.fetch', 1, 'failed after 1 attempt: getaddrinfo ENOTFOUND nowhere.invalid'],
    ]);
    expect(calls).toHaveLength(3);
    expect(driver.outputTopic('scraping-tasks.retry.1s').isEmpty()).toBe(true);
  });

  it('drops duplicate tasks by message id, also while the original is still being fetched', async () => {
    // a slow web: every fetch takes 100 ms of the driver's clock
    const slowCalls: string[] = [];
    const slow = createTestDriver(
      ({ scheduler }) =>
        createScrapingFleet({
          scheduler,
          retry: { delays: ['1s'], inProcessAttempts: 1 },
          fetch: (request, context) => {
            slowCalls.push(request.url);
            return standInFetch({ latencyMs: 100, scheduler })(request, context);
          },
        }).all,
    );
    drivers.push(slow);
    const original = task('https://example.com/dup');
    const input = slow.inputTopic(TASKS);
    input.pipeInput({ key: original.payload.task_id, value: original }); // in flight for 100 ms
    input.pipeInput({ key: original.payload.task_id, value: original }); // a producer retry, right behind it
    input.pipeInput({ key: 'other', value: task('https://example.com/other') });
    await slow.advanceTime(100);
    input.pipeInput({ key: original.payload.task_id, value: original }); // a later copy
    await slow.flush();
    expect(slowCalls).toEqual(['https://example.com/dup', 'https://example.com/other']);
    expect(slow.outputTopic(SCRAPED).size).toBe(2);
    expect(slow.outputTopic(PARSED).size).toBe(2);
    const outcomes = slow.outcomes({ pipeline: 'scraper' }).map((o) => `${o.offset}:${o.outcome}`);
    expect(outcomes.sort()).toEqual(['0:published', '1:filtered', '2:published', '3:filtered']);
    expect(slow.logs).toContainEqual(
      expect.objectContaining({ level: 'debug', stage: 'scraper.dedupe', dedupeId: original.id }),
    );
    expect(slow.committable(TASKS, 'scraper')).toEqual(new Map([[0, 4n]]));
  });

  it('drops duplicate scraped messages in the parser, and a re-delivered retry record in its round', async () => {
    const { driver, calls, send } = fleetDriver();
    const flaky = task('https://example.com/once?fail=1');
    send(flaky);
    await driver.advanceTime(1000);
    expect(calls).toHaveLength(2);
    const [scraped] = driver.outputTopic(SCRAPED, { decode: 'bytes' }).readRecords();
    // the scraped message again (a scraper re-delivery publishes the same id)
    driver
      .inputTopic(SCRAPED)
      .pipeInput({ key: scraped?.key ?? null, value: scraped?.rawValue ?? null, headers: scraped?.rawHeaders ?? {} });
    // the retry record again (the delay topic re-delivered after a crash)
    const [retried] = driver.outputTopic('scraping-tasks.retry.1s', { decode: 'bytes' }).readRecords();
    driver.inputTopic('scraping-tasks.retry.1s').pipeInput({
      key: retried?.key ?? null,
      value: retried?.rawValue ?? null,
      headers: retried?.rawHeaders ?? {},
    });
    // and the task itself again, after it went through the retry topic
    send(flaky);
    await driver.flush();
    expect(calls).toHaveLength(2);
    expect(driver.outputTopic(PARSED).size).toBe(1);
    expect(driver.outcomes({ pipeline: 'parser' }).map((o) => o.outcome)).toEqual(['published', 'filtered']);
    expect(driver.outcomes({ pipeline: 'scraper.retry.1s' }).map((o) => o.outcome)).toEqual(['published', 'filtered']);
    expect(driver.outcomes({ pipeline: 'scraper' }).map((o) => o.outcome)).toEqual(['published', 'filtered']);
  });

  it('dead-letters a scraped document the parser cannot read, keeping its correlation id', async () => {
    const { driver } = fleetDriver();
    const scraped = (type: string, body: string) => ({
      id: `scraped-${type}-${body.length}`,
      type,
      correlation_id: `corr-${type}`,
      causation_id: 'task-msg',
      timestamp: T0,
      payload: {
        task_id: 't1',
        url: 'https://api.example.com/x',
        final_url: 'https://api.example.com/x',
        status_code: 200,
        content_type: 'application/json',
        body,
        body_bytes: Buffer.byteLength(body),
        truncated: false,
        fetched_at: T0,
        fetch_ms: 12,
        attempts: 1,
      },
    });
    const input = driver.inputTopic(SCRAPED);
    input.pipeInput({ key: 't1', value: scraped('scraped_json', '{"title": "cut off') });
    input.pipeInput({ key: 't2', value: scraped('scraped_json', '"just a string"') });
    input.pipeInput({ key: 't3', value: { ...scraped('scraped_html', '<p>x</p>'), payload: { task_id: 't3' } } });
    await driver.settle();
    const dead = driver.deadLetterTopic().readDeadLetters();
    expect(dead.map((d) => [d.key, d.stage, d.errorCode, d.headers['correlation-id']])).toEqual([
      ['t1', 'parser.json', 'TRIBUTARY_ERR_PROCESSING', 'corr-scraped_json'],
      ['t2', 'parser.json', 'TRIBUTARY_ERR_PROCESSING', 'corr-scraped_json'],
      ['t3', 'parser.validate-html', 'TRIBUTARY_ERR_VALIDATION', 'corr-scraped_html'],
    ]);
    expect(dead[0]?.exceptionMessage).toMatch(/not JSON: /);
    expect(dead[1]?.exceptionMessage).toMatch(/a JSON string, not an object or array/);
    expect(driver.outputTopic(PARSED).isEmpty()).toBe(true);
    expect(driver.committable(SCRAPED, 'parser')).toEqual(new Map([[0, 3n]]));
  });

  it('takes the correlation id from the message when the header is missing, else derives one', async () => {
    const { driver, send } = fleetDriver();
    send(task('https://example.com/1', { correlation_id: 'from-body' }));
    send(task('https://example.com/2', { correlation_id: 'from-body-2' }), { headers: { 'correlation-id': 'header' } });
    send(task('https://example.com/3?fail=1'));
    await driver.flush();
    const out = driver.outputTopic(PARSED, { schema: ParsedData }).readRecords();
    const byUrl = new Map(out.map((r) => [r.value.payload.url, [r.headers['correlation-id'], r.value.correlation_id]]));
    expect(byUrl.get('https://example.com/1')).toEqual(['from-body', 'from-body']);
    expect(byUrl.get('https://example.com/2')).toEqual(['header', 'header']);
    // no id at all: the first record's coordinates, kept through the retry topic
    expect(byUrl.get('https://example.com/3?fail=1')).toEqual(['scraping-tasks-0-2', 'scraping-tasks-0-2']);
  });

  it('cuts large bodies to maxBodyBytes and says so', async () => {
    const { driver, send } = fleetDriver({ maxBodyBytes: 200 });
    send(task('https://example.com/big'));
    send(
      task('https://example.com/big2', {
        payload: { task_id: 't-big2', url: 'https://example.com/big2', max_body_bytes: 100 },
      }),
    );
    await driver.settle();
    const out = driver.outputTopic(SCRAPED, { schema: ScrapedData }).readValues();
    expect(out.map((s) => [s.payload.body_bytes, s.payload.truncated])).toEqual([
      [200, true],
      [100, true],
    ]);
  });

  it('shares one store between the scraper, its retry pipelines and the parser without dropping retries', async () => {
    const shared = memoryDedupeStore();
    const { driver, send } = fleetDriver({ dedupe: { store: () => shared } });
    const t = task('https://example.com/shared?fail=1');
    send(t);
    await driver.flush();
    const [scraped] = driver.outputTopic(SCRAPED, { schema: ScrapedData }).readValues();
    expect(driver.outputTopic(PARSED).size).toBe(1);
    // the task's id (forwarded to the delay topic), its round's id (published), the scraped message's id (parsed)
    for (const id of [t.id, `${t.id}#retry-1`, scraped?.id ?? '?']) expect(await shared.seen(id), id).toBe(true);
  });
});
