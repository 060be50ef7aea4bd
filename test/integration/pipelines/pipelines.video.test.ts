/**
 * The video analysis chain (five pipelines, one engine) on the real broker: a realistic mix of videos, flaky and
 * failing services, poison and duplicates goes in; completed and failed events, dead letters, the dlq-processor's
 * reports and every group's committed offsets are checked. A second test runs the same kind of mix through the test
 * driver first and checks that the broker run produces exactly what the driver predicted.
 */
import { describe, expect, it } from 'vitest';
import type { VideoTopics } from '../../../pipelines/lib/video.js';
import { standInSimilarityIndex } from '../../../pipelines/lib/videoStandIns.js';
import { AnalysisCompleted, AnalysisFailed, SimilarityRequested } from '../../../pipelines/schemas/video.js';
import { createVideoAnalysisPipelines, type VideoAnalysisOptions } from '../../../pipelines/videoAnalysis.js';
import type { DeadLetterReport } from '../../../pipelines/videoDlqProcessor.js';
import { DEAD_LETTER_HEADERS } from '../../../src/index.js';
import { createTestDriver } from '../../../src/testing/index.js';
import { eventually, testEngine } from '../../support/engine.js';
import {
  collect,
  committedOffsets,
  createTopic,
  produce,
  type TestRecord,
  testAdmin,
  uniqueName,
} from '../../support/kafka.js';
import {
  type ComparedRecord,
  canonical,
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
import { transcriptRequested, videoCreated } from '../../support/pipelines.js';

describe('video analysis pipelines on the broker', () => {
  it('runs the chain end to end: completed, failed, dead-lettered, reported and committed', async () => {
    const topics: VideoTopics = {
      created: await createTopic('video.created', 3),
      transcriptRequested: await createTopic('video.transcript.requested', 3),
      embeddingRequested: await createTopic('video.embedding.requested', 3),
      similarityRequested: await createTopic('video.similarity.requested', 3),
      completed: await createTopic('video.analysis.completed', 3),
      failed: await createTopic('video.analysis.failed', 3),
      dlq: await createTopic('video.dlq', 1),
      dlqParked: await createTopic('video.dlq.parked', 1),
    };
    const groupPrefix = `${uniqueName('vt')}-`;
    const reports: DeadLetterReport[] = [];
    const chain = createVideoAnalysisPipelines({
      topics,
      groupPrefix,
      retry: { jitter: 'none', initialDelayMs: 20, maxDelayMs: 100 },
      maxDurationSeconds: 3600,
      onDeadLetter: (report) => {
        reports.push(report);
      },
    });

    const records: TestRecord[] = [];
    const add = (videoId: string, value: unknown) =>
      records.push({
        key: videoId,
        value: typeof value === 'string' ? value : JSON.stringify(value),
        headers: { 'correlation-id': `corr-${videoId}`, 'event-type': 'video.created' },
      });
    for (let i = 0; i < 30; i++) add(`ok-${i}`, videoCreated(`ok-${i}`, { durationSeconds: 60 + i * 10 }));
    for (let i = 0; i < 3; i++) add(`flaky-${i}`, videoCreated(`flaky-${i}`, { title: `Live coding #flaky ${i}` }));
    for (let i = 0; i < 2; i++) {
      add(`private-${i}`, videoCreated(`private-${i}`, { url: `https://private.videos.example.com/${i}` }));
    }
    for (let i = 0; i < 2; i++) add(`long-${i}`, videoCreated(`long-${i}`, { durationSeconds: 7200 }));
    add('down-0', videoCreated('down-0', { title: 'Keynote #outage-similarity' }));
    // poison: malformed JSON, schema violations, a tombstone
    add('bad-0', '{"eventId": "x", "videoId": ');
    add('bad-1', '<html>502 Bad Gateway</html>');
    add('bad-2', { ...videoCreated('bad-2'), durationSeconds: -1 });
    add('bad-3', { ...videoCreated('bad-3'), eventType: 'video.updated' });
    records.push({ key: 'bad-4', value: null });
    // duplicates: the producer retried five of the videos
    for (let i = 0; i < 5; i++) add(`ok-${i}`, videoCreated(`ok-${i}`, { durationSeconds: 60 + i * 10 }));

    const completed = await collect(topics.completed);
    const failed = await collect(topics.failed);
    const dead = await collect(topics.dlq);
    await produce(topics.created, records);
    const engine = testEngine({ pipelines: chain.all });
    await engine.start();

    await completed.waitFor(38, 120_000); // 30 ok + 3 flaky + 5 duplicates
    await failed.waitFor(5, 60_000); // 2 private + 2 too long + 1 outage
    await dead.waitFor(5, 60_000);
    await eventually(() => reports.length >= 5, 'the dlq-processor to report 5 dead letters', 60_000);
    await engine.stop();

    // completed: every good video once per delivery, duplicates carry the same derived event id
    const done = completed.records.map((r) => ({
      record: r,
      event: AnalysisCompleted.parse(JSON.parse(r.value ?? '')),
    }));
    expect(new Set(done.map((d) => d.event.videoId))).toEqual(
      new Set([...Array.from({ length: 30 }, (_, i) => `ok-${i}`), 'flaky-0', 'flaky-1', 'flaky-2']),
    );
    expect(new Set(done.map((d) => d.event.eventId)).size).toBe(33);
    for (const { record, event } of done) {
      expect(record.key).toBe(event.videoId);
      expect(record.headers['event-type']).toBe('video.analysis.completed');
      expect(record.headers['correlation-id']).toBe(`corr-${event.videoId}`); // carried through four pipelines
      expect(event.processingDurationMs).toBeGreaterThanOrEqual(0);
      expect(event.processingDurationMs).toBe(Date.parse(event.completedAt) - Date.parse(event.analysisStartedAt));
      expect(event.embeddingModel).toBe('stand-in-hashing-16');
    }
    // the flaky ones waited at least one 20 ms backoff at each of the three stages
    for (const d of done.filter((x) => x.event.videoId.startsWith('flaky'))) {
      expect(d.event.processingDurationMs).toBeGreaterThanOrEqual(60);
    }

    const failures = failed.records.map((r) => AnalysisFailed.parse(JSON.parse(r.value ?? '')));
    expect(failures.map((f) => [f.videoId, f.stage, f.retriable]).sort()).toEqual([
      ['down-0', 'similarity', true],
      ['long-0', 'intake', false],
      ['long-1', 'intake', false],
      ['private-0', 'transcript', false],
      ['private-1', 'transcript', false],
    ]);
    expect(failed.records.every((r) => r.headers['event-type'] === 'video.analysis.failed')).toBe(true);
    expect(failures.find((f) => f.videoId === 'down-0')?.attempts).toBe(3);

    // poison: original bytes and key, original headers kept, Spring-compatible headers added
    expect(dead.records.map((r) => r.key).sort()).toEqual(['bad-0', 'bad-1', 'bad-2', 'bad-3', 'bad-4']);
    for (const d of dead.records) {
      const original = records.find((r) => r.key === d.key);
      expect(d.value).toBe(original?.value ?? undefined);
      expect(d.headers['kafka_dlt-original-topic']).toBe(topics.created);
      expect(d.headers['kafka_dlt-original-consumer-group']).toBe(`${groupPrefix}video-intake`);
      expect(d.headers['tributary-pipeline']).toBe('video-intake');
      expect(d.headers['tributary-stage']).toMatch(/^intake\.(parse|validate)$/);
      if (d.key !== 'bad-4') expect(d.headers['correlation-id']).toBe(`corr-${d.key}`);
    }
    expect(reports.map((r) => r.key).sort()).toEqual(['bad-0', 'bad-1', 'bad-2', 'bad-3', 'bad-4']);
    expect(reports.find((r) => r.key === 'bad-2')?.reason).toContain('durationSeconds');

    // every group committed to the end of every partition it reads
    const admin = await testAdmin();
    const groups: [string, string][] = [
      ['video-intake', topics.created],
      ['transcript-worker', topics.transcriptRequested],
      ['embedding-worker', topics.embeddingRequested],
      ['similarity-worker', topics.similarityRequested],
      ['dlq-processor', topics.dlq],
    ];
    for (const [group, topic] of groups) {
      const ends = await admin.fetchTopicOffsets(topic);
      const committed = await committedOffsets(`${groupPrefix}${group}`, topic);
      for (const end of ends)
        expect(committed.get(end.partition), `${group} ${topic}/${end.partition}`).toBe(BigInt(end.high));
    }
  });

  it('produces exactly what the test driver predicts: every topic of the chain, dead letters, reports, commits', async () => {
    const topics: VideoTopics = {
      created: await createTopic('video.created', 3),
      transcriptRequested: await createTopic('video.transcript.requested', 3),
      embeddingRequested: await createTopic('video.embedding.requested', 3),
      similarityRequested: await createTopic('video.similarity.requested', 3),
      completed: await createTopic('video.analysis.completed', 3),
      failed: await createTopic('video.analysis.failed', 3),
      dlq: await createTopic('video.dlq', 1),
      dlqParked: await createTopic('video.dlq.parked', 1),
    };
    const partitions: Record<string, number> = {
      [topics.created]: 3,
      [topics.transcriptRequested]: 3,
      [topics.embeddingRequested]: 3,
      [topics.similarityRequested]: 3,
      [topics.completed]: 3,
      [topics.failed]: 3,
      [topics.dlq]: 1,
      [topics.dlqParked]: 1,
    };
    const groupPrefix = `${uniqueName('vc')}-`;
    const options = (reports: DeadLetterReport[]): VideoAnalysisOptions => ({
      topics,
      groupPrefix,
      retry: { jitter: 'none', initialDelayMs: 20, maxDelayMs: 100 },
      maxDurationSeconds: 3600,
      onDeadLetter: (report) => {
        reports.push(report);
      },
    });

    // the mix: good videos on many subjects, flaky and failing services, refusals, poison, producer retries
    const subjects = ['kafka partitions', 'sourdough bread', 'jazz piano', 'rust lifetimes', 'mountain travel'];
    const created: TestRecord[] = [];
    const add = (videoId: string, value: unknown, headers: Record<string, string> | null = {}) =>
      created.push({
        key: videoId,
        value: value === null || typeof value === 'string' ? value : JSON.stringify(value),
        ...(headers === null
          ? {}
          : { headers: { 'correlation-id': `corr-${videoId}`, 'event-type': 'video.created', ...headers } }),
      });
    const videos: [string, Parameters<typeof videoCreated>[1]][] = [];
    const OK = 300; // more than a pipeline's 200 records in flight
    for (let i = 0; i < OK; i++) {
      videos.push([
        `ok-${i}`,
        {
          title: `${subjects[i % subjects.length]} #${i}`,
          durationSeconds: 30 + ((i * 397) % 3000),
          ...(i % 7 === 3 ? { language: 'fr' } : {}),
        },
      ]);
    }
    const specials: [string, Parameters<typeof videoCreated>[1]][] = [];
    for (let i = 0; i < 4; i++) specials.push([`flaky-${i}`, { title: `${subjects[i]} live #flaky ${i}` }]);
    for (let i = 0; i < 2; i++) specials.push([`private-${i}`, { url: `https://private.videos.example.com/${i}` }]);
    for (let i = 0; i < 2; i++) specials.push([`long-${i}`, { durationSeconds: 7200 + i }]);
    specials.push(['down-t', { title: 'Keynote #outage-transcript' }]);
    specials.push(['down-e', { title: 'Keynote #outage-embedding' }]);
    specials.push(['down-s', { title: 'Keynote #outage-similarity' }]);
    for (const [i, special] of specials.entries()) videos.splice(15 + i * 20, 0, special);
    for (const [videoId, overrides] of videos)
      add(videoId, videoCreated(videoId, overrides), /^ok-\d*9$/.test(videoId) ? null : {});
    const poison: [string, unknown][] = [
      ['bad-0', '{"eventId": "x", "videoId": '],
      ['bad-1', '<html>502 Bad Gateway</html>'],
      ['bad-2', { ...videoCreated('bad-2'), durationSeconds: -1 }],
      ['bad-3', { ...videoCreated('bad-3'), eventType: 'video.updated' }],
      ['bad-4', null],
      ['bad-5', { ...videoCreated('bad-5'), language: 'english' }],
    ];
    for (const [i, [key, value]] of poison.entries()) {
      created.splice(7 + i * 50, 0, {
        key,
        value: value === null || typeof value === 'string' ? value : JSON.stringify(value),
        headers: { 'correlation-id': `corr-${key}` },
      });
    }
    // the producer retried some sends: good, flaky, refused, failing and poison records again, at the end
    for (const videoId of [
      'ok-0',
      'ok-1',
      'ok-2',
      'ok-3',
      'ok-4',
      'flaky-0',
      'private-0',
      'long-0',
      'down-e',
      'bad-0',
    ]) {
      const original = created.find((r) => r.key === videoId) as TestRecord;
      created.push({ ...original });
    }
    // straight into the transcript worker's topic (before anything else is there): poison and one good request
    const requests: TestRecord[] = [
      {
        key: 'w-bad-0',
        value: '{"eventType": "video.transcript.requested", ',
        headers: { 'correlation-id': 'corr-w0' },
      },
      {
        key: 'w-bad-1',
        value: JSON.stringify(transcriptRequested('w-bad-1', { durationSeconds: -5 })),
        headers: { 'correlation-id': 'corr-w1' },
      },
      {
        key: 'direct-0',
        value: JSON.stringify(transcriptRequested('direct-0')),
        headers: { 'correlation-id': 'corr-d0' },
      },
    ];

    // what the test driver says should come out
    const driverReports: DeadLetterReport[] = [];
    const driverStarted = Date.now();
    const driverRun = countingObserver();
    const driver = createTestDriver(
      ({ scheduler }) => createVideoAnalysisPipelines({ ...options(driverReports), scheduler }).all,
      { partitions, observer: driverRun.observer },
    );
    const asDriverInput = (r: TestRecord) => ({ key: r.key ?? null, value: r.value, headers: r.headers ?? {} });
    driver.inputTopic(topics.transcriptRequested).pipeRecords(requests.map(asDriverInput));
    driver.inputTopic(topics.created).pipeRecords(created.map(asDriverInput));
    await driver.flush();
    expect(driver.unfinished()).toEqual([]);
    const written = (topic: string) => driver.outputTopic(topic, { decode: 'bytes' }).allRecords();
    const TIMES = ['occurredAt', 'analysisStartedAt'];
    const json =
      (leaveOut: readonly string[]) =>
      (text: string | null): unknown => {
        if (text === null) return null;
        try {
          return omit(JSON.parse(text), leaveOut);
        } catch {
          return { unparsed: text };
        }
      };
    const deadLetters: TopicNormalization = { ignoreHeaders: [DEAD_LETTER_HEADERS.originalTimestamp] };
    const normalizations: Record<string, TopicNormalization> = {
      [topics.transcriptRequested]: { value: json(TIMES) },
      [topics.embeddingRequested]: { value: json([...TIMES, 'timings']) },
      [topics.similarityRequested]: { value: json([...TIMES, 'timings']) },
      // `similar` depends on the order the similarity worker saw the videos in: checked below, not compared
      [topics.completed]: {
        value: json([...TIMES, 'completedAt', 'processingDurationMs', 'timings', 'similar']),
      },
      [topics.failed]: { value: json(TIMES) },
      [topics.dlq]: deadLetters,
      [topics.dlqParked]: deadLetters,
    };
    const predicted = Object.fromEntries(
      Object.entries(normalizations).map(([topic, spec]) => [topic, fromDriver(written(topic), spec)]),
    );
    const driverCompleted = written(topics.completed).map((r) =>
      AnalysisCompleted.parse(JSON.parse(String(r.rawValue))),
    );
    const embeddings = new Map(
      written(topics.similarityRequested).map((r) => {
        const request = SimilarityRequested.parse(JSON.parse(String(r.rawValue)));
        return [request.videoId, request];
      }),
    );
    const groups: GroupTopic[] = [
      { groupId: `${groupPrefix}video-intake`, topic: topics.created },
      { groupId: `${groupPrefix}transcript-worker`, topic: topics.transcriptRequested },
      { groupId: `${groupPrefix}embedding-worker`, topic: topics.embeddingRequested },
      { groupId: `${groupPrefix}similarity-worker`, topic: topics.similarityRequested },
      { groupId: `${groupPrefix}dlq-processor`, topic: topics.dlq },
    ];
    const driverMs = Date.now() - driverStarted;

    // the driver's prediction is the chain's behaviour, not an empty run
    const count = (topic: string) => predicted[topic]?.length ?? 0;
    expect(count(topics.completed)).toBe(OK + 4 + 1 + 6); // ok, flaky, direct-0, retried sends
    expect(count(topics.failed)).toBe(10); // 2 private + 2 long + 3 outages + 3 retried sends
    expect(count(topics.dlq)).toBe(9); // 6 poison + its retried send + 2 straight into the worker's topic
    expect(count(topics.dlqParked)).toBe(0);
    expect(driverReports).toHaveLength(9);
    expect(driverRun.counts.retries['transcript-worker transcript.call']).toBe(4 + 1 + 2); // flaky, flaky-0 again, down-t
    expect(driverRun.counts.outcomes[`video-intake ${topics.created} dead_lettered`]).toBe(poison.length + 1);

    // the real thing
    const brokerReports: DeadLetterReport[] = [];
    const brokerStarted = Date.now();
    await produce(topics.transcriptRequested, requests);
    await produce(topics.created, created);
    const brokerRun = countingObserver();
    const engine = testEngine({
      pipelines: createVideoAnalysisPipelines(options(brokerReports)).all,
      observer: brokerRun.observer,
    });
    await engine.start();
    const expectedCounts = Object.fromEntries(Object.keys(normalizations).map((topic) => [topic, count(topic)]));
    // the dlq-processor's group at the end of video.dlq: every dead letter was reported
    const notReached = await waitForBroker(expectedCounts, groups, 40_000);
    await engine.stop();
    const brokerMs = Date.now() - brokerStarted;
    const stored = Object.fromEntries(
      await Promise.all(
        Object.keys(normalizations).map(async (topic) => [topic, await readBrokerTopic(topic)] as const),
      ),
    );
    console.log(
      `[video] ${created.length + requests.length} records: driver ${driverMs} ms, broker ${brokerMs} ms` +
        (notReached ? `; not reached: ${notReached}` : ''),
    );

    // every topic the chain writes holds on the broker what the driver predicted, in the same partitions and order
    for (const [topic, spec] of Object.entries(normalizations)) {
      expectSameRecords(topic, fromBroker(stored[topic] ?? [], spec), predicted[topic] as ComparedRecord[]);
    }
    // the dlq-processor reported the same dead letters (original topic, partition, offset, stage, code, reason, ...)
    expect(brokerReports.map(canonical).sort()).toEqual(driverReports.map(canonical).sort());
    // every record finished the same way (published, dead-lettered, ...), after as many retries
    expectSameCounts(brokerRun.counts, driverRun.counts);
    // each group committed what it committed in the driver: the end of every partition
    await expectSameCommits(driver, groups);
    await driver.close();

    // `similar`: in both runs, videos completed in that run, best first, scored as the index scores the pair
    const brokerCompleted = (stored[topics.completed] ?? []).map((r) =>
      AnalysisCompleted.parse(JSON.parse(String(r.value))),
    );
    const attempt = { attempt: 1, signal: new AbortController().signal };
    const pairScores = new Map<string, number | undefined>();
    const pairScore = async (a: string, b: string) => {
      const key = [a, b].sort().join(' ');
      if (!pairScores.has(key)) {
        const [first, second] = [embeddings.get(a), embeddings.get(b)];
        if (first === undefined || second === undefined) return undefined;
        const fresh = standInSimilarityIndex();
        await fresh({ ...first, title: 'pair' }, attempt);
        pairScores.set(key, (await fresh({ ...second, title: 'pair' }, attempt))[0]?.score);
      }
      return pairScores.get(key);
    };
    for (const [run, completedEvents] of [
      ['driver', driverCompleted],
      ['broker', brokerCompleted],
    ] as const) {
      const done = new Set(completedEvents.map((c) => c.videoId));
      for (const c of completedEvents) {
        expect(c.similar.length, `${run} ${c.videoId}`).toBeLessThanOrEqual(3);
        const scores = c.similar.map((s) => s.score);
        expect(scores, `${run} ${c.videoId}: best first`).toEqual([...scores].sort((x, y) => y - x));
        for (const s of c.similar) {
          expect(s.videoId === c.videoId || !done.has(s.videoId), `${run} ${c.videoId} → ${s.videoId}`).toBe(false);
          expect(s.score, `${run} ${c.videoId} → ${s.videoId}`).toBe(await pairScore(c.videoId, s.videoId));
        }
      }
    }
    expect(brokerCompleted.filter((c) => c.similar.length === 3).length).toBeGreaterThan(OK);
  }, 90_000);
});
