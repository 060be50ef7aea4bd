import { defer, map, pipe } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  branchToDeadLetter,
  dedupe,
  definePipeline,
  filterValue,
  inspectPipeline,
  mapValue,
  parseJson,
  publish,
  retryTopicPipelines,
  retryViaTopics,
  route,
  sink,
  tapValue,
  validate,
} from '../../../src/index.js';
import { stageInfoOf } from '../../../src/runtime/stageInfo.js';

const Order = z.object({ id: z.string(), kind: z.string() });

const orders = definePipeline({
  name: 'orders',
  source: { topics: ['orders'], groupId: 'orders' },
  deadLetter: { topic: 'orders.dlq' },
  build: (records) =>
    records
      .pipe(
        parseJson({ name: 'orders.parse' }),
        validate(Order, { name: 'orders.validate' }),
        dedupe({ id: (el) => el.value.id, ttlMs: 1000, name: 'orders.dedupe' }),
        map((element) => element),
        route(
          (el) => el.value.kind,
          {
            small: 'orders.small',
            big: pipe(
              mapValue((order: z.infer<typeof Order>) => order, { name: 'orders.big.map' }),
              retryViaTopics(async (order: z.infer<typeof Order>) => order, {
                delays: ['1s', '30s'],
                name: 'orders.big.call',
              }),
              publish('orders.big'),
            ),
          },
          { name: 'orders.route' },
        ),
      )
      .pipe(
        filterValue(() => true, { name: 'orders.keep' }),
        tapValue(() => {}, { name: 'orders.tap' }),
        branchToDeadLetter('orders.parked'),
        publish((el) => `orders.by-kind.${el.value.kind}`, { name: 'orders.fanout' }),
        sink(() => {}, { name: 'orders.sink' }),
      ),
});

describe('inspectPipeline', () => {
  it('lists the stages in order, route branches nested, and the output topics, without running anything', () => {
    const inspection = inspectPipeline(orders);
    expect(inspection.complete).toBe(true);
    expect(inspection.stages.map((s) => [s.depth, s.name, s.kind])).toEqual([
      [0, 'orders.parse', 'parseJson'],
      [0, 'orders.validate', 'validate'],
      [0, 'orders.dedupe', 'dedupe'],
      [0, 'anonymous', 'rxjs'],
      [0, 'orders.route', 'route'],
      [1, 'orders.big.map', 'mapValue'],
      [1, 'orders.big.call', 'retryViaTopics'],
      [1, 'publish', 'publish'],
      [0, 'orders.keep', 'filterValue'],
      [0, 'orders.tap', 'tapValue'],
      [0, 'branchToDeadLetter', 'branchToDeadLetter'],
      [0, 'orders.fanout', 'publish'],
      [0, 'orders.sink', 'sink'],
    ]);
    expect(inspection.stages.find((s) => s.name === 'orders.big.call')).toMatchObject({
      branch: 'orders.route/big',
      outputTopics: ['orders.retry.1s', 'orders.retry.30s'],
    });
    expect(inspection.stages.find((s) => s.name === 'orders.fanout')?.dynamicOutputs).toBe(true);
    expect(inspection.outputTopics).toEqual([
      'orders.small',
      'orders.retry.1s',
      'orders.retry.30s',
      'orders.big',
      'orders.parked',
    ]);
    expect(inspection.dynamicOutputs).toBe(true);
  });

  it('resolves delay topics against the original topic in the retry pipelines', () => {
    const [retry1s] = retryTopicPipelines(orders, { delays: ['1s', '30s'] });
    const inspection = inspectPipeline(retry1s as NonNullable<typeof retry1s>);
    expect(inspection.complete).toBe(true);
    expect(inspection.stages[0]).toMatchObject({ name: 'retry.1s.wait', kind: 'awaitRetryDue' });
    expect(inspection.outputTopics).toContain('orders.retry.30s');
    expect(inspection.outputTopics).not.toContain('orders.retry.1s.retry.30s');
  });

  it('uses a fixed topic prefix as is', () => {
    const op = retryViaTopics(async (v: unknown) => v, { delays: [1500], topicPrefix: 'jobs' });
    expect(stageInfoOf(op)).toEqual({
      name: 'retryViaTopics',
      kind: 'retryViaTopics',
      outputTopics: ['jobs.retry.1500ms'],
    });
  });

  it('reports an incomplete chain when build throws or leaves records.pipe', () => {
    const base = { source: { topics: ['in'], groupId: 'g' }, deadLetter: { topic: 'in.dlq' } };
    const throwing = definePipeline({
      ...base,
      name: 'throwing',
      build: (records) => {
        const parsed = records.pipe(parseJson());
        if (parsed) throw new Error('boom');
        return parsed;
      },
    });
    expect(inspectPipeline(throwing)).toMatchObject({ complete: false, stages: [{ name: 'parseJson' }] });

    const deferred = definePipeline({
      ...base,
      name: 'deferred',
      build: (records) => defer(() => records.pipe(parseJson())),
    });
    expect(inspectPipeline(deferred)).toMatchObject({ complete: false, stages: [], outputTopics: [] });
  });

  it('passes records through when build returns them unchanged', () => {
    const identity = definePipeline({
      name: 'identity',
      source: { topics: ['in'], groupId: 'g' },
      deadLetter: { topic: 'in.dlq' },
      build: (records) => records,
    });
    expect(inspectPipeline(identity)).toEqual({ stages: [], outputTopics: [], dynamicOutputs: false, complete: true });
  });
});
