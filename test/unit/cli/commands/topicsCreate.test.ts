/** `tributary topics create` before it reaches a broker: which topics it wants, and its arguments. */
import { defer } from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  parseTopicsCreateArgs,
  pipelineTopics,
  topicsCreateCommand,
} from '../../../../src/cli/commands/topicsCreate.js';
import type { LoadedPipeline } from '../../../../src/cli/loadPipelines.js';
import {
  branchToDeadLetter,
  definePipeline,
  type Pipeline,
  parseJson,
  publish,
  retryTopicPipelines,
  retryViaTopics,
} from '../../../../src/index.js';
import { recordedIo } from '../io.js';

function loaded(...pipelines: Pipeline<unknown>[]): LoadedPipeline[] {
  return pipelines.map((pipeline) => ({ pipeline, file: 'pipelines/x.ts', exportName: pipeline.name }));
}

describe('pipelineTopics', () => {
  it("lists sources, what the stages write to (outputs, retry delay topics, branchToDeadLetter's topic) and dead letters", () => {
    const retries = { delays: ['10s', '1m'] };
    const orders = definePipeline({
      name: 'orders',
      source: { topics: ['orders'], groupId: 'orders' },
      deadLetter: { topic: 'orders.dlq' },
      build: (records) =>
        records.pipe(
          parseJson(),
          retryViaTopics(async (value) => value, { ...retries, name: 'price' }),
          branchToDeadLetter('orders.price.dlq'),
          publish('orders.priced'),
        ),
    });
    const { topics, notes } = pipelineTopics(loaded(orders, ...retryTopicPipelines(orders, retries)));
    // the retry pipelines run the main chain again ('rerun'), so they write where it writes
    const again = (role: string) => [`orders.retry.10s (${role})`, `orders.retry.1m (${role})`];
    expect(Object.fromEntries(topics)).toEqual({
      orders: ['orders (source)'],
      'orders.retry.10s': ['orders (retries)', 'orders.retry.10s (source)', ...again('retries')],
      'orders.retry.1m': [
        'orders (retries)',
        'orders.retry.10s (retries)',
        'orders.retry.1m (source)',
        'orders.retry.1m (retries)',
      ],
      'orders.price.dlq': ['orders (dead letters)', ...again('dead letters')],
      'orders.priced': ['orders (output)', ...again('output')],
      'orders.dlq': ['orders (dead letters)', ...again('dead letters')],
    });
    expect([...topics.keys()]).toEqual([
      'orders',
      'orders.retry.10s',
      'orders.retry.1m',
      'orders.price.dlq',
      'orders.priced',
      'orders.dlq',
    ]);
    expect(notes).toEqual([]);
  });

  it('notes topics chosen per record and builds it cannot see through, instead of guessing', () => {
    const byRegion = definePipeline({
      name: 'by-region',
      source: { topics: ['events'], groupId: 'g' },
      deadLetter: { topic: 'events.dlq' },
      build: (records) => records.pipe(publish(() => 'events.eu', { name: 'fan-out' })),
    });
    const hidden = definePipeline({
      name: 'hidden',
      source: { topics: ['in'], groupId: 'h' },
      deadLetter: { topic: 'in.dlq' },
      build: (records) => defer(() => records.pipe(publish('out'))),
    });
    const { topics, notes } = pipelineTopics(loaded(byRegion, hidden));
    expect([...topics.keys()]).toEqual(['events', 'events.dlq', 'in', 'in.dlq']);
    expect(notes).toEqual([
      'note: by-region also writes to topics chosen per record (stage fan-out): not created; name them with --extra',
      "note: hidden's build does more than chain records.pipe(...), so some of its output topics may not be known " +
        '(tributary describe shows what was found); name them with --extra',
    ]);
  });
});

describe('tributary topics create arguments', () => {
  it('parses partitions, replication factor and --extra lists; refuses bad topic names with exit 2', async () => {
    expect(parseTopicsCreateArgs(['p/', '--partitions', '6', '--extra', 'a,b', '--extra', 'c'])).toEqual({
      paths: ['p/'],
      partitions: 6,
      replicationFactor: -1,
      extra: ['a', 'b', 'c'],
    });
    const io = recordedIo({ KAFKA_BROKERS: '127.0.0.1:1' });
    expect(await topicsCreateCommand(['--extra', 'bad topic'], io)).toBe(2);
    expect(io.err[0]).toBe(
      'tributary topics create: --extra "bad topic" is not a Kafka topic name ([A-Za-z0-9._-], 1–249 characters, not "." or "..")',
    );
  });
});
