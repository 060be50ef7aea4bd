/**
 * The operator docs/operators.md ("Writing your own operator") shows (test/fixtures/docs/withCustomer.ts), run: what the section says of it is
 * true of the engine (a dropped record finished and committed, a failed lookup dead-lettered at its stage, the stage
 * listed by inspectPipeline), and an operator left undescribed is listed as `rxjs`.
 */
import { readFileSync } from 'node:fs';
import { of } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { OPERATORS_DOC } from '../../../scripts/docs/operatorTables.js';
import {
  definePipeline,
  type Element,
  inspectPipeline,
  laneOfElement,
  mergeMapByLane,
  parseJson,
  publish,
} from '../../../src/index.js';
import { createTestDriver, type TestDriver } from '../../../src/testing/index.js';
import { withCustomer } from '../../fixtures/docs/withCustomer.js';

interface Customer {
  readonly id: string;
  readonly tier: string;
}

interface Order {
  readonly orderId: string;
  readonly customerId: string;
}

const customers: Record<string, Customer> = { c1: { id: 'c1', tier: 'gold' } };
const lookup = async (id: string) => {
  if (id === 'down') throw new Error('customer service unavailable');
  return customers[id];
};

const pipeline = definePipeline({
  name: 'orders-enrich',
  source: { topics: ['orders'], groupId: 'orders-enrich' },
  deadLetter: { topic: 'orders.dlq' },
  build: (records) =>
    records.pipe(
      parseJson<Order>(),
      withCustomer(lookup, { name: 'orders.customer' }),
      publish('orders.enriched', { name: 'toEnriched' }),
    ),
});

const drivers: TestDriver[] = [];
afterEach(async () => {
  for (const driver of drivers.splice(0)) await driver.close();
});

describe('the custom operator of docs/operators.md', () => {
  it('is the code the page shows', () => {
    const doc = readFileSync(OPERATORS_DOC, 'utf8');
    const source = readFileSync(new URL('../../fixtures/docs/withCustomer.ts', import.meta.url), 'utf8');
    const example = source
      .split('// ---- the example of docs/operators.md, unchanged below this line ----\n')[1]
      ?.split('// ---- end of the example ----')[0];
    expect(example).toBeDefined();
    expect(doc).toContain(example?.trim());
  });

  it('enriches, drops (finished, committed) and fails (dead-lettered at its stage) as the section says', async () => {
    const driver = createTestDriver(pipeline);
    drivers.push(driver);
    driver.inputTopic('orders').pipeRecords([
      { key: 'o1', value: { orderId: 'o1', customerId: 'c1' }, partition: 0 },
      { key: 'o2', value: { orderId: 'o2', customerId: 'unknown' }, partition: 0 },
      { key: 'o3', value: { orderId: 'o3', customerId: 'down' }, partition: 0 },
    ]);
    await driver.settle();
    expect(driver.outputTopic('orders.enriched').readValues()).toEqual([
      { orderId: 'o1', customerId: 'c1', customer: { id: 'c1', tier: 'gold' } },
    ]);
    expect(driver.outcomes().map((o) => [o.offset, o.outcome])).toEqual(
      expect.arrayContaining([
        [0n, 'published'],
        [1n, 'filtered'],
        [2n, 'dead_lettered'],
      ]),
    );
    const [dead] = driver.deadLetterTopic().readDeadLetters();
    expect([dead?.stage, dead?.errorCode, dead?.exceptionMessage]).toEqual([
      'orders.customer',
      'TRIBUTARY_ERR_PROCESSING',
      'customer lookup failed: customer service unavailable',
    ]);
    await driver.advanceTime(1000);
    expect(driver.committedOffsets()).toMatchObject([{ topic: 'orders', partition: 0, offset: 3n }]);
  });

  it('is listed by inspectPipeline with its name and kind; without describeStage it is an anonymous rxjs stage', () => {
    expect(inspectPipeline(pipeline).stages.map((s) => [s.name, s.kind])).toEqual([
      ['parseJson', 'parseJson'],
      ['orders.customer', 'withCustomer'],
      ['toEnriched', 'publish'],
    ]);
    const undescribed = mergeMapByLane((element: Element<unknown>) => of(element), laneOfElement);
    const stages = inspectPipeline({
      source: pipeline.source,
      build: (records) => records.pipe(parseJson(), undescribed),
    }).stages;
    expect(stages.map((s) => s.kind)).toEqual(['parseJson', 'rxjs']);
  });
});
