import { from, mergeMap, type Observable, of, tap } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { deriveEventId } from '../../../pipelines/lib/eventIds.js';
import { oneRecordPerLane } from '../../../pipelines/lib/oneRecordPerLane.js';
import { definePipeline, type Element, parse, publish } from '../../../src/index.js';
import { createTestDriver, type TestDriver } from '../../../src/testing/index.js';

const drivers: TestDriver[] = [];
afterEach(async () => {
  for (const d of drivers.splice(0)) await d.close();
});

describe('oneRecordPerLane', () => {
  it('lets the next record of a lane in only once the previous one finished; other lanes go on', async () => {
    const entered: string[] = [];
    const gates = new Map<string, () => void>();
    const driver = createTestDriver(
      definePipeline({
        name: 'lanes',
        source: { topics: ['in'], groupId: 'g' },
        deadLetter: { topic: 'dlq' },
        ordering: 'key',
        build: (records) =>
          records.pipe(
            parse('string'),
            oneRecordPerLane(),
            tap((e) => e.ok && entered.push(e.value)),
            // a stage that does not hold lanes itself: everything it gets runs at once
            mergeMap(
              (e): Observable<Element<string>> =>
                e.ok ? from(new Promise<Element<string>>((done) => gates.set(e.value, () => done(e)))) : of(e),
            ),
            publish('out'),
          ),
      }),
    );
    drivers.push(driver);
    driver.inputTopic('in').pipeKeyValues([
      ['a', 'a1'],
      ['a', 'a2'],
      ['b', 'b1'],
      ['a', 'a3'],
    ]);
    await driver.settle();
    expect(entered).toEqual(['a1', 'b1']);
    gates.get('a1')?.();
    await driver.settle();
    expect(entered).toEqual(['a1', 'b1', 'a2']);
    gates.get('a2')?.();
    gates.get('b1')?.();
    await driver.settle();
    expect(entered).toEqual(['a1', 'b1', 'a2', 'a3']);
    gates.get('a3')?.();
    await driver.settle();
    const out = driver.outputTopic('out', { decode: 'string' }).readValues();
    expect(out.filter((v) => v?.startsWith('a'))).toEqual(['a1', 'a2', 'a3']);
    expect(out).toHaveLength(4);
    expect(driver.committable('in')).toEqual(new Map([[0, 4n]]));
  });

  it('does not hold a lane for a failed element, nor behind one', async () => {
    const driver = createTestDriver(
      definePipeline({
        name: 'lanes',
        source: { topics: ['in'], groupId: 'g' },
        deadLetter: { topic: 'dlq' },
        ordering: 'key',
        build: (records) => records.pipe(parse('string', { maxBytes: 3 }), oneRecordPerLane(), publish('out')),
      }),
    );
    drivers.push(driver);
    driver.inputTopic('in').pipeKeyValues([
      ['a', 'too long'],
      ['a', 'ok'],
    ]);
    await driver.settle();
    expect(driver.deadLetterTopic().readValues()).toEqual(['too long']);
    expect(driver.outputTopic('out', { decode: 'string' }).readValues()).toEqual(['ok']);
  });
});

describe('deriveEventId', () => {
  it('is stable for the same cause and type, different otherwise', () => {
    const id = deriveEventId('evt-1', 'video.transcript.requested');
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(deriveEventId('evt-1', 'video.transcript.requested')).toBe(id);
    expect(deriveEventId('evt-2', 'video.transcript.requested')).not.toBe(id);
    expect(deriveEventId('evt-1', 'video.analysis.failed')).not.toBe(id);
    expect(deriveEventId('evt-1', 'notification', 'a')).not.toBe(deriveEventId('evt-1', 'notification', 'b'));
  });
});
