import { afterEach, describe, expect, it } from 'vitest';
import { createNotificationPipeline } from '../../../pipelines/notifications.js';
import { createVideoAnalysisPipelines } from '../../../pipelines/videoAnalysis.js';
import { createLoadGenerator, runLoad } from '../../../scripts/loadGenerator.js';
import type { OutgoingRecord } from '../../../src/index.js';
import { createTestDriver, type TestDriver } from '../../../src/testing/index.js';

const drivers: TestDriver[] = [];
afterEach(async () => {
  for (const d of drivers.splice(0)) await d.close();
});

describe('the demo load generator', () => {
  it('is deterministic per seed and produces about 1% malformed or invalid records', () => {
    const a = createLoadGenerator({ seed: 7 });
    const b = createLoadGenerator({ seed: 7 });
    const batchA = a.batch(5000);
    const batchB = b.batch(5000);
    const strip = (records: OutgoingRecord[]) =>
      records.map((r) => [r.topic, r.key, String(r.value).replace(/"(timestamp|occurredAt)":"[^"]*"/g, '')]);
    expect(strip(batchA)).toEqual(strip(batchB));
    expect(a.stats.records).toBe(5000);
    expect(a.stats.malformed / 5000).toBeGreaterThan(0.005);
    expect(a.stats.malformed / 5000).toBeLessThan(0.02);
    expect(a.stats.byTopic.feed_events).toBeGreaterThan(3000);
    expect(a.stats.byTopic['video.created']).toBeGreaterThan(300);
    expect(a.stats.byTopic.user_events).toBeGreaterThan(100);
    expect(a.stats.byTopic['scraping-tasks']).toBeGreaterThan(150);
    // each results video goes Transcribe → update_transcribe → finish_compress
    expect(a.stats.byTopic.Transcribe).toBeGreaterThan(50);
    expect(a.stats.byTopic.update_transcribe).toBeGreaterThan(30);
    expect(a.stats.byTopic.finish_compress).toBeGreaterThan(20);
    expect(batchA.every((r) => typeof r.headers?.['correlation-id'] === 'string')).toBe(true);
  });

  it('feeds the shipped pipelines: only the malformed records are dead-lettered', async () => {
    const generator = createLoadGenerator({ seed: 11 });
    const driver = createTestDriver(({ scheduler }) => [
      ...createVideoAnalysisPipelines({ scheduler, retry: { jitter: 'none' } }).all,
      createNotificationPipeline({ scheduler }),
    ]);
    drivers.push(driver);
    for (const record of generator.batch(3000)) {
      driver.inputTopic(record.topic).pipeInput({
        key: record.key,
        value: record.value,
        headers: record.headers ?? {},
      });
    }
    await driver.flush();
    const videoDead = driver.deadLetterTopic('video.dlq').readDeadLetters();
    const feedDead = driver.deadLetterTopic('notifications.dlq').readDeadLetters();
    // every dead letter is one of the generator's malformed records (their keys start with "bad-")
    expect([...videoDead, ...feedDead].every((d) => d.key?.startsWith('bad-'))).toBe(true);
    expect(videoDead.length + feedDead.length).toBe(generator.stats.malformed);
    expect(driver.outputTopic('video.analysis.completed').size).toBeGreaterThan(250);
    expect(driver.outputTopic('video.analysis.failed').size).toBeGreaterThan(0);
    expect(driver.outputTopic('notifications').size).toBeGreaterThan(500);
    expect(driver.unfinished()).toEqual([]);
  });

  it('runLoad paces batches at the rate and stops when told', async () => {
    const sent: number[] = [];
    const run = runLoad({
      generator: createLoadGenerator({ seed: 3 }),
      send: async (records) => {
        sent.push(records.length);
      },
      rate: 1000,
      durationMs: 300,
      tickMs: 20,
    });
    await run.done;
    const total = sent.reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(200);
    expect(total).toBeLessThanOrEqual(300);
    expect(run.sent).toBe(total);
    const endless = runLoad({ generator: createLoadGenerator(), send: async () => {}, rate: 10 });
    await endless.stop();
    expect(() => runLoad({ generator: createLoadGenerator(), send: async () => {}, rate: 0 })).toThrow(RangeError);
  });
});
