import { lastValueFrom, map, type Observable, Subject, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { parseJson } from '../../../../operators/parseJson.js';
import { retryTopicPipelines } from '../../../../operators/retryTopics/index.js';
import { RETRY_HEADERS } from '../../../../operators/retryTopics/topics.js';
import { retryViaTopics } from '../../../../operators/retryViaTopics.js';
import type { Element, Envelope, RawValue } from '../../../../src/envelope.js';
import { TributaryError } from '../../../../src/errors.js';
import type { RecordHeaders } from '../../../../src/kafka/ports.js';
import { definePipeline } from '../../../../src/runtime/definePipeline.js';
import { expectFailed, expectOk, rawEnvelope, testContext } from '../../../support/envelopes.js';

const retries = { delays: ['1s', '30s', 1000] };

function mainPipeline(build: (records: Observable<Envelope<RawValue>>) => Observable<Element<unknown>>) {
  return definePipeline({
    name: 'scraper',
    source: { topics: ['scraping-tasks', 'scraping-urgent'], groupId: 'scraper-group' },
    deadLetter: { topic: 'dead-letter' },
    maxInFlight: 300,
    ordering: 'key',
    commitIntervalMs: 500,
    drainTimeoutMs: 5000,
    build,
  });
}

function retryCopy(value: string, headers: RecordHeaders = {}) {
  return rawEnvelope(value, {
    topic: 'scraping-tasks.retry.1s',
    partition: 1,
    offset: 7,
    key: 'task-1',
    context: testContext(),
    headers: {
      [RETRY_HEADERS.attempt]: '1',
      [RETRY_HEADERS.attempts]: '1',
      [RETRY_HEADERS.due]: '0',
      [RETRY_HEADERS.originalTopic]: 'scraping-tasks',
      [RETRY_HEADERS.springOriginalPartition]: Buffer.from([0, 0, 0, 4]),
      [RETRY_HEADERS.springOriginalOffset]: Buffer.from([0, 0, 0, 0, 0, 0, 0, 9]),
      ...headers,
    },
  });
}

/** Runs a pipeline's chain over `inputs` (a Subject, as the engine feeds it). */
async function runBuild(
  pipeline: { build: (r: Observable<Envelope<RawValue>>) => Observable<Element<unknown>> },
  inputs: Envelope<RawValue>[],
) {
  const subject = new Subject<Envelope<RawValue>>();
  const done = lastValueFrom(pipeline.build(subject).pipe(toArray()));
  for (const input of inputs) subject.next(input);
  subject.complete();
  return done;
}

describe('retryTopicPipelines', () => {
  it('makes one pipeline per distinct delay, over every source topic, from the earliest offset', () => {
    const main = mainPipeline((records) => records);
    const pipelines = retryTopicPipelines(main, retries);
    expect(
      pipelines.map((p) => ({
        name: p.name,
        topics: p.source.topics,
        group: p.source.groupId,
        from: p.source.fromBeginning,
      })),
    ).toEqual([
      {
        name: 'scraper.retry.1s',
        topics: ['scraping-tasks.retry.1s', 'scraping-urgent.retry.1s'],
        group: 'scraper-group.retry.1s',
        from: true,
      },
      {
        name: 'scraper.retry.30s',
        topics: ['scraping-tasks.retry.30s', 'scraping-urgent.retry.30s'],
        group: 'scraper-group.retry.30s',
        from: true,
      },
    ]);
    for (const p of pipelines) {
      expect(p.deadLetter).toEqual({ topic: 'dead-letter' });
      expect([p.maxInFlight, p.ordering, p.commitIntervalMs, p.drainTimeoutMs]).toEqual([300, 'key', 500, 5000]);
    }
    const prefixed = retryTopicPipelines(main, {
      delays: ['5m'],
      topicPrefix: 'retry',
      maxInFlight: 50,
      ordering: 'partition',
    });
    expect(prefixed.map((p) => [p.source.topics, p.maxInFlight, p.ordering])).toEqual([
      [['retry.retry.5m'], 50, 'partition'],
    ]);
  });

  it("'rerun' runs the main chain on a due record, whose origin names the original record", async () => {
    const seen: string[] = [];
    const main = mainPipeline((records) =>
      records.pipe(
        map((el) => {
          seen.push(`${el.origin.topic}/${el.origin.partition}@${el.origin.offset}`);
          return el;
        }),
        parseJson<{ url: string }>(),
      ),
    );
    const [retry] = retryTopicPipelines(main, retries);
    const input = retryCopy('{"url":"https://example.com"}');
    const [out] = await runBuild(retry!, [input]);
    expect(expectOk(out).value).toEqual({ url: 'https://example.com' });
    expect(seen).toEqual(['scraping-tasks/4@9']);
    expect(out?.ticket).toBe(input.ticket);
  });

  it("'rerun' with retryViaTopics: a record failing in round 1 goes on to the 30s topic", async () => {
    const main = mainPipeline((records) =>
      records.pipe(
        parseJson<{ url: string }>(),
        retryViaTopics(async () => {
          throw new Error('HTTP 503');
        }, retries),
      ),
    );
    const [retry] = retryTopicPipelines(main, retries);
    const input = retryCopy('{"url":"https://example.com"}');
    expect(await runBuild(retry!, [input])).toEqual([]);
    expect(input.context.sent.map((r) => r.topic)).toEqual(['scraping-tasks.retry.30s']);
    expect(input.ticket.outcome).toBe('published');
  });

  it("'redeliver' publishes the due record back to its original topic with its headers", async () => {
    const main = mainPipeline((records) => records);
    const [retry] = retryTopicPipelines(main, { ...retries, mode: 'redeliver' });
    const input = retryCopy('raw-bytes', { 'correlation-id': 'c-1' });
    const plain = rawEnvelope('not a retry record', { topic: 'scraping-tasks.retry.1s', context: input.context });
    const outputs = await runBuild(retry!, [input, plain]);
    const redelivered = outputs.find((el) => el.ok);
    const refused = outputs.find((el) => !el.ok);
    const [sent] = input.context.sent;
    expect(sent?.topic).toBe('scraping-tasks');
    expect(sent?.value).toEqual(Buffer.from('raw-bytes'));
    expect(sent?.key).toEqual(Buffer.from('task-1'));
    expect(sent?.headers?.[RETRY_HEADERS.attempt]).toBe('1');
    expect(sent?.headers?.['correlation-id']).toBe('c-1');
    expect(input.context.sent).toHaveLength(1);
    expect(expectOk(redelivered).ticket).toBe(input.ticket);
    expect(input.ticket.settled).toBe('published'); // passed on: the end of the chain finishes it
    expect(input.ticket.finished).toBe(false);
    const failure = expectFailed(refused);
    expect(failure.stage).toBe('retry.1s.redeliver');
    expect(failure.error.code).toBe('TRIBUTARY_ERR_VALIDATION');
  });

  it('refuses bad options and names that do not fit', () => {
    const main = mainPipeline((records) => records);
    const codeOf = (build: () => unknown) => {
      try {
        build();
      } catch (error) {
        return error instanceof TributaryError ? error.code : String(error);
      }
      return 'no error';
    };
    expect(codeOf(() => retryTopicPipelines(main, { delays: [] }))).toBe('TRIBUTARY_ERR_PIPELINE_DEFINITION');
    expect(codeOf(() => retryTopicPipelines(main, { delays: ['1s'], mode: 'later' as 'rerun' }))).toBe(
      'TRIBUTARY_ERR_PIPELINE_DEFINITION',
    );
    const long = definePipeline({ ...main, name: 'p'.repeat(95), source: { ...main.source } });
    expect(codeOf(() => retryTopicPipelines(long, { delays: ['1s'] }))).toBe('TRIBUTARY_ERR_PIPELINE_DEFINITION');
  });
});
