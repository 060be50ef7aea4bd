/**
 * The scraping fleet on the real broker (and Redis for the message ids, when 127.0.0.1:6379 answers): a realistic mix
 * of tasks — HTML pages and JSON documents, a task that fails twice and succeeds through the 1 s and 2 s delay topics,
 * one that never succeeds, a 404, duplicates by message id (right behind the original and much later), an unknown
 * message type, malformed records — goes through scraper → scraped-data → parser → parsed-data. Checks the outputs
 * (each task exactly once), the dead letters and their headers, correlation ids end to end, and that every group
 * committed to the end of its topics.
 */
import { Redis } from 'ioredis';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ParsedData, ScrapedData, type ScrapingTaskInput } from '../../../pipelines/schemas/scraping.js';
import { createScrapingFleet } from '../../../pipelines/scraping.js';
import { RETRY_HEADERS } from '../../../src/index.js';
import { eventually, testEngine } from '../../support/engine.js';
import {
  collect,
  committedOffsets,
  createNamedTopics,
  createTopic,
  produce,
  type TestRecord,
  testAdmin,
  uniqueName,
} from '../../support/kafka.js';

/** An ioredis client when Redis answers on 127.0.0.1:6379 within a second, else undefined. */
async function localRedis(): Promise<Redis | undefined> {
  const client = new Redis({
    host: '127.0.0.1',
    port: 6379,
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    connectTimeout: 1000,
    retryStrategy: () => null,
  });
  try {
    await client.connect();
    await client.ping();
    onTestFinished(() => client.quit().then(() => undefined));
    return client;
  } catch {
    client.disconnect();
    return undefined;
  }
}

const T0 = '2024-01-01T00:00:00.000Z';

function task(n: number, url: string, extra: Partial<ScrapingTaskInput> = {}): ScrapingTaskInput {
  return {
    id: `msg-${n}`,
    type: 'scraping_task',
    timestamp: T0,
    payload: { task_id: `task-${n}`, url },
    ...extra,
  };
}

describe('scraping fleet on the broker', () => {
  it('scrapes and parses every task once, retries through the delay topics, dead-letters poison, commits everything', async () => {
    const topics = {
      tasks: await createTopic('scraping-tasks', 3),
      scrapedData: await createTopic('scraped-data', 3),
      parsedData: await createTopic('parsed-data', 3),
      deadLetter: await createTopic('dead-letter', 1),
    };
    const retryTopics = [`${topics.tasks}.retry.1s`, `${topics.tasks}.retry.2s`];
    await createNamedTopics(retryTopics, 3);
    const redis = await localRedis();
    const prefix = `${uniqueName('tributary-it-scraping')}:`;
    const fleet = createScrapingFleet({
      topics,
      scraperName: uniqueName('scraper'),
      scraperGroupId: uniqueName('scraper-group'),
      parserName: uniqueName('parser'),
      parserGroupId: uniqueName('parser-group'),
      retry: { delays: ['1s', '2s'], inProcessAttempts: 1 },
      ...(redis ? { dedupe: { redis, prefix } } : {}),
    });
    expect(fleet.retryTopics).toEqual(retryTopics);

    // the mix
    const good: ScrapingTaskInput[] = Array.from({ length: 40 }, (_, i) =>
      task(
        i,
        i % 5 === 0 ? `https://api.example.com/v1/items/${i}.json` : `https://site${i % 7}.example.com/articles/${i}`,
        i % 4 === 3 ? { correlation_id: `body-corr-${i}` } : {},
      ),
    );
    const flaky = task(100, 'https://flaky.example.com/page?fail=2');
    const doomed = task(101, 'https://down.example.com/page?status=503');
    const gone = task(102, 'https://example.com/gone?status=404');
    const header = (t: ScrapingTaskInput) =>
      t.correlation_id === undefined ? { 'correlation-id': `corr-${t.payload.task_id}` } : undefined;
    const record = (t: ScrapingTaskInput): TestRecord => ({
      key: t.payload.task_id,
      value: JSON.stringify(t),
      ...(header(t) ? { headers: header(t) } : {}),
    });
    const batch1: TestRecord[] = [];
    for (const [i, t] of good.entries()) {
      batch1.push(record(t));
      if (i % 10 === 4) batch1.push(record(t)); // a producer retry, right behind the original
    }
    batch1.splice(5, 0, record(flaky), record(doomed), record(gone));
    const poison: TestRecord[] = [
      { key: 'x1', value: JSON.stringify({ ...task(200, 'https://example.com/'), type: 'scraping_cancel' }) },
      { key: 'x2', value: '{"id": "msg-201", "type": "scraping_task", "payload": ' },
      { key: 'x3', value: null },
      { key: 'x4', value: JSON.stringify(task(203, 'ftp://files.example.com/a')) },
    ];
    for (const [i, p] of poison.entries()) batch1.splice(10 + i * 9, 0, p);
    const lateDuplicates = [good[0], good[7], good[21], flaky].map((t) => record(t as ScrapingTaskInput));

    const scraped = await collect(topics.scrapedData);
    const parsed = await collect(topics.parsedData);
    const dead = await collect(topics.deadLetter);
    const started = Date.now();
    const engine = testEngine({ pipelines: fleet.all });
    await engine.start();
    await produce(topics.tasks, batch1);
    // a message type the parser does not handle, produced straight to scraped-data
    await produce(topics.scrapedData, [
      {
        key: 'pdf-1',
        value: JSON.stringify({ id: 'pdf-1', type: 'scraped_pdf', timestamp: T0, payload: {} }),
        headers: { 'correlation-id': 'corr-pdf' },
      },
    ]);
    const expected = good.length + 1; // the good ones and the flaky one
    await parsed.waitFor(expected - 1, 60_000); // everything but (maybe) the flaky one
    const firstPassMs = Date.now() - started;
    await produce(topics.tasks, lateDuplicates);
    await parsed.waitFor(expected, 60_000);
    const flakyDoneMs = Date.now() - started;
    await dead.waitFor(7, 60_000);

    // every group commits to the end of what it reads
    const admin = await testAdmin();
    const atEnd = async (groupId: string, topic: string) => {
      const ends = await admin.fetchTopicOffsets(topic);
      const committed = await committedOffsets(groupId, topic);
      // an empty partition (a delay topic's) has nothing to commit
      return ends.every((e) => e.high === e.low || committed.get(e.partition) === BigInt(e.high));
    };
    const groups: [string, string][] = [
      [fleet.scraper.source.groupId, topics.tasks],
      ...fleet.scraperRetries.map((p): [string, string] => [p.source.groupId, p.source.topics[0] as string]),
      [fleet.parser.source.groupId, topics.scrapedData],
    ];
    await eventually(
      async () => (await Promise.all(groups.map(([g, t]) => atEnd(g, t)))).every(Boolean),
      'every group committed to the end',
    );
    await engine.stop();
    const totalMs = Date.now() - started;
    console.log(
      `[scraping] ${batch1.length + lateDuplicates.length} tasks (${good.length} good, 5+${lateDuplicates.length} duplicates, ` +
        `${poison.length} poison, 3 failing): first pass ${firstPassMs} ms, the twice-failing task done after ` +
        `${flakyDoneMs} ms, all committed after ${totalMs} ms; dedupe store: ${redis ? 'Redis' : 'memory'}`,
    );

    // outputs: each task exactly once, on both topics
    const scrapedValues = scraped.records
      .filter((r) => r.key !== 'pdf-1') // produced by the test, straight to scraped-data
      .map((r) => ScrapedData.parse(JSON.parse(r.value ?? '')));
    const parsedRecords = parsed.records.map((r) => ({
      record: r,
      value: ParsedData.parse(JSON.parse(r.value ?? '')),
    }));
    const expectedTasks = [...good, flaky].map((t) => t.payload.task_id).sort();
    expect(scrapedValues.map((s) => s.payload.task_id).sort()).toEqual(expectedTasks);
    expect(parsedRecords.map((p) => p.value.payload.task_id).sort()).toEqual(expectedTasks);
    for (const { record: r, value } of parsedRecords) {
      expect(r.key).toBe(value.payload.task_id);
      expect(r.headers['message-type']).toBe('parsed_data');
      expect(value.payload.title).not.toBeNull();
      expect(value.payload.links.length).toBeGreaterThan(0);
    }
    const jsonParsed = parsedRecords.filter((p) => p.value.payload.source_type === 'json');
    expect(jsonParsed).toHaveLength(8);

    // correlation ids end to end: the header in, the header and the body out, on both hops
    const byTask = new Map([...good, flaky].map((t) => [t.payload.task_id, t]));
    const expectedCorrelation = (taskId: string) => {
      const t = byTask.get(taskId) as ScrapingTaskInput;
      return t.correlation_id ?? `corr-${taskId}`;
    };
    for (const r of scraped.records) {
      const value = ScrapedData.safeParse(JSON.parse(r.value ?? ''));
      if (!value.success) continue; // the scraped_pdf message
      expect(r.headers['correlation-id']).toBe(expectedCorrelation(value.data.payload.task_id));
      expect(value.data.correlation_id).toBe(expectedCorrelation(value.data.payload.task_id));
    }
    for (const { record: r, value } of parsedRecords) {
      expect(r.headers['correlation-id'], value.payload.task_id).toBe(expectedCorrelation(value.payload.task_id));
      expect(value.correlation_id).toBe(expectedCorrelation(value.payload.task_id));
    }

    // the twice-failing task: three fetches, through both delay topics, the original correlation id kept
    const flakyScraped = scrapedValues.find((s) => s.payload.task_id === flaky.payload.task_id);
    expect(flakyScraped?.payload.attempts).toBe(3);
    const retried1 = await collectAll(retryTopics[0] as string, 2);
    const retried2 = await collectAll(retryTopics[1] as string, 2);
    for (const [round, records] of [
      [1, retried1],
      [2, retried2],
    ] as const) {
      expect(records.map((r) => r.key).sort()).toEqual([doomed.payload.task_id, flaky.payload.task_id].sort());
      for (const r of records) {
        expect(r.headers[RETRY_HEADERS.attempt]).toBe(String(round));
        expect(r.headers[RETRY_HEADERS.originalTopic]).toBe(topics.tasks);
        expect(r.headers['correlation-id']).toBe(`corr-${r.key}`);
      }
    }

    // dead letters: the stage, the reason, the original topic and group, the correlation id, the original bytes
    const deadByStage = dead.records
      .map((d) => `${d.headers['tributary-stage']} ${d.key ?? '-'} ${d.headers['tributary-attempts']}`)
      .sort();
    expect(deadByStage).toEqual(
      [
        `scraper.fetch ${doomed.payload.task_id} 3`,
        `scraper.fetch ${gone.payload.task_id} 1`,
        'scraper.route x1 0',
        'scraper.parse x2 0',
        'scraper.parse x3 0',
        'scraper.validate-task x4 0',
        'parser.route pdf-1 0',
      ].sort(),
    );
    const doomedDead = dead.records.find((d) => d.key === doomed.payload.task_id);
    expect(doomedDead?.headers).toMatchObject({
      'kafka_dlt-original-topic': topics.tasks,
      'kafka_dlt-original-consumer-group': `${fleet.scraper.source.groupId}.retry.2s`,
      'tributary-pipeline': `${fleet.scraper.name}.retry.2s`,
      'correlation-id': `corr-${doomed.payload.task_id}`,
    });
    expect(doomedDead?.headers['kafka_dlt-exception-message']).toBe(
      `failed after 3 attempts (2 retry topics): HTTP 503 from ${doomed.payload.url}`,
    );
    expect(doomedDead?.value).toBe(JSON.stringify(doomed));
    expect(dead.records.find((d) => d.key === 'x1')?.headers['kafka_dlt-exception-message']).toBe(
      'no route for "scraping_cancel"; known routes: "scraping_task"',
    );
    expect(dead.records.find((d) => d.key === 'pdf-1')?.headers).toMatchObject({
      'kafka_dlt-original-topic': topics.scrapedData,
      'kafka_dlt-original-consumer-group': fleet.parser.source.groupId,
      'correlation-id': 'corr-pdf',
    });

    // Redis holds the ids: the task's own, and one per retry round it passed through
    if (redis) {
      expect(await redis.exists(`${prefix}scraper:${good[1]?.id}`)).toBe(1);
      expect(await redis.pttl(`${prefix}scraper:${good[1]?.id}`)).toBeGreaterThan(23 * 3600 * 1000);
      for (const id of [flaky.id, `${flaky.id}#retry-1`, `${flaky.id}#retry-2`]) {
        expect(await redis.exists(`${prefix}scraper:${id}`), id).toBe(1);
      }
      expect(await redis.exists(`${prefix}scraper:${doomed.id}#retry-2`)).toBe(0); // dead-lettered: not remembered
      expect(await redis.exists(`${prefix}parser:${flakyScraped?.id}`)).toBe(1);
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
    }
  });
});

/** Every record of a topic (at least `count`). */
async function collectAll(topic: string, count: number) {
  const all = await collect(topic);
  await all.waitFor(count, 30_000);
  await all.stop();
  return all.records;
}
