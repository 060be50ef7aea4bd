import type { Observable } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { publish } from '../../../operators/publish.js';
import { sink } from '../../../operators/sink.js';
import { definePipeline, type Element, type Envelope, type RawValue, TributaryError } from '../../../src/index.js';
import { createTestDriver, type TestDriver } from '../../../src/testing/index.js';
import { expectFailed, expectOk, runOperator, testContext, testEnvelope } from '../../support/envelopes.js';

const drivers: TestDriver[] = [];
afterEach(async () => {
  for (const d of drivers.splice(0)) await d.close();
});

/** A driver whose broker refuses keyless records on `compacted` for good, as Kafka does on a compacted topic. */
function driverFor(build: (records: Observable<Envelope<RawValue>>) => Observable<Element<unknown>>): TestDriver {
  const driver = createTestDriver(
    definePipeline({
      name: 'after-publish',
      source: { topics: ['in'], groupId: 'after-publish-group' },
      deadLetter: { topic: 'in.dlq' },
      build,
    }),
    {
      onSend: (record) => {
        if (record.topic === 'compacted' && record.key === null) {
          throw Object.assign(new Error('Compacted topic cannot accept message without key'), { retriable: false });
        }
      },
    },
  );
  drivers.push(driver);
  return driver;
}

describe('publish', () => {
  it("settles each record as 'published' once acknowledged and emits it unfinished", async () => {
    const context = testContext();
    const input = testEnvelope({ id: 1 }, { context, key: 'k1' });
    const [output] = await runOperator([input], publish('out'));
    expect(context.sent).toEqual([{ topic: 'out', key: Buffer.from('k1'), value: '{"id":1}' }]);
    expect(expectOk(output).value).toEqual({ id: 1 });
    expect(input.ticket.settled).toBe('published');
    expect(input.ticket.calls).toEqual([]); // the end of the chain finishes it
  });

  it('fails a refused record without settling it', async () => {
    const context = testContext();
    context.enqueue = (_record, done) => queueMicrotask(() => done(new Error('MESSAGE_TOO_LARGE')));
    const input = testEnvelope('x', { context });
    const [output] = await runOperator([input], publish('out', { name: 'toOut' }));
    const failure = expectFailed(output);
    expect(failure.stage).toBe('toOut');
    expect(failure.error.code).toBe('TRIBUTARY_ERR_PUBLISH');
    expect(input.ticket.settled).toBeUndefined();
    expect(input.ticket.finished).toBe(false);
  });

  it('fails a record it cannot build at its topic, partition and offset, without sending it', async () => {
    const context = testContext();
    const input = testEnvelope('x', { context, topic: 'orders', partition: 2, offset: 41n });
    const boom = () => {
      throw new Error('no key here');
    };
    const [output] = await runOperator([input], publish('out', { name: 'toOut', key: boom }));
    const failure = expectFailed(output);
    expect(failure.stage).toBe('toOut');
    expect(failure.error.code).toBe('TRIBUTARY_ERR_PROCESSING');
    expect(failure.error.message).toBe('publish could not build the record: no key here');
    expect(failure.error.retriable).toBe(false);
    expect([failure.error.topic, failure.error.partition, failure.error.offset]).toEqual(['orders', 2, 41n]);
    expect(context.sent).toEqual([]);
  });

  it('checks its options when the pipeline is built, as every operator does (TRIBUTARY_ERR_PIPELINE_DEFINITION)', () => {
    const definitionError = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        return error instanceof TributaryError ? `${error.code}: ${error.message}` : String(error);
      }
      return 'no error';
    };
    expect(definitionError(() => publish('out', { name: 'has space' }))).toMatch(
      /^TRIBUTARY_ERR_PIPELINE_DEFINITION: publish: invalid options: name: a stage name may only contain/,
    );
    expect(definitionError(() => publish('out', { key: 'orderId' as never }))).toBe(
      'TRIBUTARY_ERR_PIPELINE_DEFINITION: publish: invalid options: key: expected a function',
    );
    expect(definitionError(() => publish('out', { keys: () => null } as never))).toMatch(
      /^TRIBUTARY_ERR_PIPELINE_DEFINITION: publish: invalid options: .*keys/,
    );
    expect(definitionError(() => publish('bad topic'))).toMatch(
      /^TRIBUTARY_ERR_PIPELINE_DEFINITION: publish: "bad topic" is not a Kafka topic name/,
    );
  });

  it('publish then publish: a record the second topic refuses is dead-lettered, and only then committed', async () => {
    const driver = driverFor((r) => r.pipe(publish('a'), publish('compacted', { name: 'toCompacted' })));
    driver.inputTopic('in').pipeRecords([{ key: 'k0', value: 'v0' }, { value: 'keyless' }, { key: 'k2', value: 'v2' }]);
    await driver.settle();
    expect(driver.outputTopic('a', { decode: 'string' }).readValues()).toEqual(['v0', 'keyless', 'v2']);
    expect(driver.outputTopic('compacted', { decode: 'string' }).readValues()).toEqual(['v0', 'v2']);
    expect(driver.deadLetterTopic().readDeadLetters()).toMatchObject([
      { value: 'keyless', stage: 'toCompacted', errorCode: 'TRIBUTARY_ERR_PUBLISH', originalOffset: 1n },
    ]);
    // outcomes are listed in the order records finished: the dead letter's write finishes its record last
    expect(driver.outcomes().map((o) => [o.offset, o.outcome])).toEqual([
      [0n, 'published'],
      [2n, 'published'],
      [1n, 'dead_lettered'],
    ]);
    expect(driver.committable('in')).toEqual(new Map([[0, 3n]]));
  });

  it('sink then publish: the record finishes as published, or dead-lettered when the publish is refused', async () => {
    const written: string[] = [];
    const driver = driverFor((r) =>
      r.pipe(
        sink((value: RawValue) => {
          written.push(String(value));
        }),
        publish('compacted'),
      ),
    );
    driver.inputTopic('in').pipeRecords([{ key: 'k0', value: 'v0' }, { value: 'keyless' }]);
    await driver.settle();
    expect(written).toEqual(['v0', 'keyless']);
    expect(driver.deadLetterTopic().readDeadLetters()).toMatchObject([{ value: 'keyless', stage: 'publish' }]);
    expect(driver.outcomes().map((o) => o.outcome)).toEqual(['published', 'dead_lettered']);
    expect(driver.committable('in')).toEqual(new Map([[0, 2n]]));
  });

  it('publish then sink: the record is not committable while the sink still holds it', async () => {
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const driver = driverFor((r) =>
      r.pipe(
        publish('a'),
        sink(() => held),
      ),
    );
    driver.inputTopic('in').pipeRecords([{ key: 'k0', value: 'v0' }]);
    await driver.settle();
    expect(driver.outputTopic('a', { decode: 'string' }).readValues()).toEqual(['v0']);
    expect(driver.committable('in')).toEqual(new Map([[0, 0n]]));
    expect(driver.unfinished()).toMatchObject([{ offset: 0n, state: 'in-flight' }]);
    release();
    await driver.settle();
    expect(driver.outcomes().map((o) => o.outcome)).toEqual(['sunk']);
    expect(driver.committable('in')).toEqual(new Map([[0, 1n]]));
  });
});
