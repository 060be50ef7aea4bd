/**
 * The scraping fleet on the real broker (and Redis for the message ids, when 127.0.0.1:6379 answers): a realistic mix
 * of tasks — HTML pages and JSON documents, a task that fails twice and succeeds through the 1 s and 2 s delay topics,
 * one that never succeeds, a 404, duplicates by message id (right behind the original and much later), an unknown
 * message type, malformed records — goes through scraper → scraped-data → parser → parsed-data. Checks the outputs
 * (each task exactly once), the dead letters and their headers, correlation ids end to end, and that every group
 * committed to the end of its topics. A second test runs a similar mix through the test driver first and checks that
 * the broker run produces exactly what the driver predicted, on every topic the fleet writes.
 */
import { Redis } from 'ioredis';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ParsedData, ScrapedData, type ScrapingTaskInput } from '../../../pipelines/schemas/scraping.js';
import { createScrapingFleet, type ScrapingFleetOptions } from '../../../pipelines/scraping.js';
import { DEAD_LETTER_HEADERS, RETRY_HEADERS } from '../../../src/index.js';
import { createTestDriver } from '../../../src/testing/index.js';
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
import {
  type ComparedRecord,
  countingObserver,
  expectSameCommits,
  expectSameCounts,
  expectSameRecords,
  fromBroker,
  fromDriver,
  type GroupTopic,
  omit,
  readBrokerTopic,
  type TopicNormalization,
  waitForBroker,
} from '../../support/pipelineComparison.js';

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

  it('produces exactly what the test driver predicts: outputs, delay topics, dead letters, commits', async () => {
    const topics = {
      tasks: await createTopic('scraping-tasks', 3),
      scrapedData: await createTopic('scraped-data', 3),
      parsedData: await createTopic('parsed-data', 3),
      deadLetter: await createTopic('dead-letter', 1),
    };
    const retryTopics = [`${topics.tasks}.retry.1s`, `${topics.tasks}.retry.2s`];
    await createNamedTopics(retryTopics, 3);
    // the same fleet in both runs (in-memory dedupe stores), on the driver's clock or on real time
    const fleetOptions: ScrapingFleetOptions = {
      topics,
      scraperName: uniqueName('scraper'),
      scraperGroupId: uniqueName('scraper-group'),
      parserName: uniqueName('parser'),
      parserGroupId: uniqueName('parser-group'),
      retry: { delays: ['1s', '2s'], inProcessAttempts: 1, jitter: 'none' },
    };

    // the mix: pages and documents, correlation ids from the header, the body or the record's coordinates, tasks
    // keyed by host (one at a time per site), failing fetches of every kind, producer retries, poison
    const withCorrelation = new Map<ScrapingTaskInput, 'header' | 'body' | 'none'>();
    const GOOD = 200;
    const good: ScrapingTaskInput[] = Array.from({ length: GOOD }, (_, i) => {
      const how = i % 9 === 8 ? 'none' : i % 4 === 3 ? 'body' : 'header';
      const t = task(
        1000 + i,
        i % 5 === 0 ? `https://api.example.com/v2/items/${i}.json` : `https://site${i % 7}.example.com/posts/${i}`,
        how === 'body' ? { correlation_id: `body-corr-${i}` } : {},
      );
      withCorrelation.set(t, how);
      return t;
    });
    const keyOf = (t: ScrapingTaskInput, i: number) =>
      i % 10 >= 8 ? (i % 20 >= 10 ? 'host-shop.example.com' : 'host-blog.example.com') : t.payload.task_id;
    const failing = {
      flaky2: task(400, 'https://flaky.example.com/page?fail=2'),
      flaky1: task(401, 'https://wobbly.example.com/page?fail=1'),
      doomed: task(402, 'https://down.example.com/page?status=503'),
      limited: task(403, 'https://busy.example.com/page?status=429'),
      gone: task(404, 'https://example.com/gone?status=404'),
      image: task(405, 'https://example.com/logo.png?type=image/png'),
      nowhere: task(406, 'https://nowhere.invalid/page'),
    };
    withCorrelation.set(failing.flaky1, 'none');
    const record = (t: ScrapingTaskInput, key = t.payload.task_id): TestRecord => ({
      key,
      value: JSON.stringify(t),
      ...((withCorrelation.get(t) ?? 'header') === 'header'
        ? { headers: { 'correlation-id': `corr-${t.payload.task_id}` } }
        : {}),
    });
    const batch1: TestRecord[] = [];
    for (const [i, t] of good.entries()) {
      batch1.push(record(t, keyOf(t, i)));
      if (i % 25 === 4 || i % 50 === 38) batch1.push(record(t, keyOf(t, i))); // a producer retry, right behind it
    }
    for (const [i, t] of Object.values(failing).entries()) batch1.splice(5 + i * 25, 0, record(t));
    const poison: TestRecord[] = [
      { key: 'x1', value: JSON.stringify({ ...task(500, 'https://example.com/'), type: 'scraping_cancel' }) },
      { key: 'x2', value: '{"id": "msg-501", "type": "scraping_task", "payload": ' },
      { key: 'x3', value: null, headers: { 'correlation-id': 'corr-x3' } },
      { key: 'x4', value: JSON.stringify(task(503, 'ftp://files.example.com/a')) },
      {
        key: 'x5',
        value: JSON.stringify({ ...task(504, 'https://example.com/x'), payload: { url: 'https://example.com/x' } }),
      },
    ];
    for (const [i, p] of poison.entries()) batch1.splice(12 + i * 40, 0, p);
    // copies arriving after the first pass: dropped when their original finished, dead-lettered again when it was
    // dead-lettered (a dead letter's id is not remembered)
    const late: TestRecord[] = [
      record(good[0] as ScrapingTaskInput),
      record(good[7] as ScrapingTaskInput),
      record(good[38] as ScrapingTaskInput, keyOf(good[38] as ScrapingTaskInput, 38)),
      record(failing.flaky2),
      record(failing.doomed),
      record(failing.gone),
      poison[1] as TestRecord,
    ];
    // straight into scraped-data, before anything else is there: a type the parser does not handle, a broken document
    const scrapedJson = (n: number, body: string) => ({
      id: `scraped-${n}`,
      type: 'scraped_json',
      correlation_id: `corr-scraped-${n}`,
      causation_id: `msg-${n}`,
      timestamp: T0,
      payload: {
        task_id: `pre-${n}`,
        url: 'https://api.example.com/broken',
        final_url: 'https://api.example.com/broken',
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
    const prelude: TestRecord[] = [
      {
        key: 'pdf-1',
        value: JSON.stringify({ id: 'pdf-1', type: 'scraped_pdf', timestamp: T0, payload: {} }),
        headers: { 'correlation-id': 'corr-pdf' },
      },
      { key: 'pre-1', value: JSON.stringify(scrapedJson(1, '{"title": "cut off')) },
      { key: 'pre-2', value: JSON.stringify(scrapedJson(2, '{"title": "fine", "url": "/fine"}')) },
    ];

    // what the test driver says should come out
    const driverStarted = Date.now();
    const partitions = Object.fromEntries([
      ...[topics.tasks, topics.scrapedData, topics.parsedData, ...retryTopics].map((t) => [t, 3] as const),
      [topics.deadLetter, 1] as const,
    ]);
    const driverRun = countingObserver();
    const driver = createTestDriver(({ scheduler }) => createScrapingFleet({ ...fleetOptions, scheduler }).all, {
      partitions,
      observer: driverRun.observer,
    });
    const asDriverInput = (r: TestRecord) => ({ key: r.key ?? null, value: r.value, headers: r.headers ?? {} });
    driver.inputTopic(topics.scrapedData).pipeRecords(prelude.map(asDriverInput));
    driver.inputTopic(topics.tasks).pipeRecords(batch1.map(asDriverInput));
    await driver.settle();
    driver.inputTopic(topics.tasks).pipeRecords(late.map(asDriverInput));
    await driver.flush();
    expect(driver.unfinished()).toEqual([]);
    const json =
      (leaveOut: readonly string[], leaveOutOfPayload: readonly string[] = []) =>
      (text: string | null): unknown => {
        if (text === null) return null;
        try {
          const value = JSON.parse(text) as { payload?: unknown };
          return omit({ ...value, payload: omit(value.payload, leaveOutOfPayload) }, leaveOut);
        } catch {
          return { unparsed: text };
        }
      };
    const retryRecords: TopicNormalization = {
      ignoreHeaders: [RETRY_HEADERS.due, RETRY_HEADERS.springOriginalTimestamp],
    };
    const normalizations: Record<string, TopicNormalization> = {
      [topics.scrapedData]: { value: json(['timestamp'], ['fetched_at', 'fetch_ms']) },
      [topics.parsedData]: { value: json(['timestamp']) },
      [retryTopics[0] as string]: retryRecords,
      [retryTopics[1] as string]: retryRecords,
      // a dead letter from a delay topic keeps that record's headers, its due time among them
      [topics.deadLetter]: {
        ignoreHeaders: [
          DEAD_LETTER_HEADERS.originalTimestamp,
          RETRY_HEADERS.due,
          RETRY_HEADERS.springOriginalTimestamp,
        ],
      },
    };
    const predicted = Object.fromEntries(
      Object.entries(normalizations).map(([topic, spec]) => [
        topic,
        fromDriver(driver.outputTopic(topic, { decode: 'bytes' }).allRecords(), spec),
      ]),
    );
    const fleet = createScrapingFleet(fleetOptions);
    const groups: GroupTopic[] = [
      { groupId: fleet.scraper.source.groupId, topic: topics.tasks },
      ...fleet.scraperRetries.map((p) => ({ groupId: p.source.groupId, topic: p.source.topics[0] as string })),
      { groupId: fleet.parser.source.groupId, topic: topics.scrapedData },
    ];
    const driverMs = Date.now() - driverStarted;

    // the driver's prediction is the fleet's behaviour, not an empty run
    const count = (topic: string) => predicted[topic]?.length ?? 0;
    expect(count(topics.scrapedData)).toBe(prelude.length + good.length + 2); // and the two flaky tasks
    expect(count(topics.parsedData)).toBe(good.length + 2 + 1); // and pre-2
    expect(count(retryTopics[0] as string)).toBe(4); // both flaky, the 503 and the 429
    expect(count(retryTopics[1] as string)).toBe(3); // the twice-failing one, the 503 and the 429
    expect(count(topics.deadLetter)).toBe(poison.length + 5 + 2 + 2); // + failing fetches, prelude, late copies
    // each producer retry and late copy but the two dead-lettered again was dropped as a duplicate
    expect(driverRun.counts.outcomes[`${fleetOptions.scraperName} ${topics.tasks} filtered`]).toBe(
      batch1.length + late.length - (GOOD + 7 + poison.length) - 2,
    );

    // the real thing
    const brokerStarted = Date.now();
    await produce(topics.scrapedData, prelude);
    await produce(topics.tasks, batch1);
    const brokerRun = countingObserver();
    const engine = testEngine({ pipelines: fleet.all, observer: brokerRun.observer });
    await engine.start();
    const firstPass = await waitForBroker({}, [{ groupId: fleet.scraper.source.groupId, topic: topics.tasks }], 20_000);
    await produce(topics.tasks, late);
    const expectedCounts = Object.fromEntries(Object.keys(normalizations).map((topic) => [topic, count(topic)]));
    const notReached = await waitForBroker(expectedCounts, groups, 25_000);
    await engine.stop();
    const brokerMs = Date.now() - brokerStarted;
    const stored = Object.fromEntries(
      await Promise.all(
        Object.keys(normalizations).map(async (topic) => [topic, await readBrokerTopic(topic)] as const),
      ),
    );
    console.log(
      `[scraping] ${prelude.length + batch1.length + late.length} records: driver ${driverMs} ms, broker ${brokerMs} ms` +
        (firstPass ? `; first pass not done: ${firstPass}` : '') +
        (notReached ? `; not reached: ${notReached}` : ''),
    );

    // every topic the fleet writes holds on the broker what the driver predicted, in the same partitions and order
    for (const [topic, spec] of Object.entries(normalizations)) {
      expectSameRecords(topic, fromBroker(stored[topic] ?? [], spec), predicted[topic] as ComparedRecord[]);
    }
    // every record finished the same way (published, filtered as a duplicate, ...), after as many retries
    expectSameCounts(brokerRun.counts, driverRun.counts);
    // each group committed what it committed in the driver: the end of every partition
    await expectSameCommits(driver, groups);
    await driver.close();
  });
});

/** Every record of a topic (at least `count`). */
async function collectAll(topic: string, count: number) {
  const all = await collect(topic);
  await all.waitFor(count, 30_000);
  await all.stop();
  return all.records;
}
