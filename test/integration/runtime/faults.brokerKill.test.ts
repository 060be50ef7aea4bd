/**
 * Issue 11 §5: the broker killed (SIGKILL) and restarted twice during a run. Nothing is lost, the engine recovers by
 * itself, and /readyz (served as `tributary run` serves it) answers 503 while the broker is gone and 200 after.
 * The broker is this test's own (killableBroker), never the shared one.
 */
import { describe, expect, it } from 'vitest';
import { startTributary } from '../../../src/cli/startTributary.js';
import { definePipeline, publish } from '../../../src/index.js';
import { createTopicsWithLeaders } from '../../../src/kafka/kafkajsTopics.js';
import { capturedLogger } from '../../support/capturedLogger.js';
import { delivery, describeDelivery, uncommitted } from '../../support/delivery.js';
import { eventually } from '../../support/engine.js';
import { uniqueName } from '../../support/kafka.js';
import { startKillableBroker } from '../../support/killableBroker.js';
import { work } from '../../support/operators.js';
import { type ReadinessProbe, watchReadiness } from '../../support/readinessWatch.js';
import { readToEnd } from '../../support/readToEnd.js';

const n = 6000;
/**
 * How long the broker stays down at most while we wait for /readyz to say 503: the consumer heartbeats every second,
 * and kafkajs gives up on a request after its default retries (~9 s of backoff) and crashes the consumer.
 */
const NOTICE_BOUND_MS = 15_000;
/** Kept down this much longer once 503 was seen, so the engine really runs without a broker for a while. */
const HOLD_DOWN_MS = 2_000;
/** After the broker answers again: the engine commits again, and /readyz is 200, within this. */
const RECOVERY_BOUND_MS = 45_000;

const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));
const started = performance.now();
/** Where the time goes (broker start-up dominates on a busy machine), on stderr. */
const trace = (what: string) =>
  console.error(`[broker kill test] +${((performance.now() - started) / 1000).toFixed(1)} s ${what}`);

interface Outage {
  /** ms from the kill to the first 503, undefined when /readyz stayed 200 the whole time. */
  to503?: number;
  downMs: number;
  /** ms from the restart's spawn until the broker answered. */
  brokerStartMs: number;
  /** ms from the broker answering to the first /readyz 200 after it. */
  to200?: number;
  /** ms from the broker answering until the group committed past what it had committed when the broker died. */
  toProgress?: number;
  reasons503: string[];
}

const describeOutage = (o: Outage, i: number) =>
  `outage ${i + 1}: 503 after ${o.to503 ?? 'never'} ms, broker down ${o.downMs} ms (its restart ${o.brokerStartMs} ms), ` +
  `committing ${o.toProgress ?? 'never'} ms and /readyz 200 ${o.to200 ?? 'never'} ms after it answered` +
  (o.reasons503.length > 0 ? ` (503 reasons: ${o.reasons503.join('; ')})` : '');

describe('faults: the broker killed and restarted twice', () => {
  it('loses nothing, recovers by itself, and /readyz is 503 while the broker is gone and 200 after', async () => {
    const broker = await startKillableBroker('faults-broker');
    trace(`own broker answers on ${broker.bootstrap}`);
    const kafka = broker.kafka('fault-test');
    const input = uniqueName('fbk-in');
    const output = uniqueName('fbk-out');
    const dlq = uniqueName('fbk-dlq');
    const admin = kafka.admin();
    await admin.connect();
    await createTopicsWithLeaders(admin, [
      { topic: input, numPartitions: 3 },
      { topic: output, numPartitions: 3 },
      { topic: dlq, numPartitions: 1 },
    ]);
    await admin.disconnect();
    const ids = Array.from({ length: n }, (_, i) => String(i));
    const producer = kafka.producer();
    await producer.connect();
    for (let i = 0; i < n; i += 1000) {
      await producer.send({
        topic: input,
        acks: -1,
        messages: ids.slice(i, i + 1000).map((id) => ({ key: `k${Number(id) % 60}`, value: id })),
      });
    }
    await producer.disconnect();

    const groupId = uniqueName('fbk-group');
    const logs = capturedLogger();
    // partition order and 10 ms of work per record: ~300 records/s over 3 partitions, so the run spans both outages
    const pipeline = definePipeline({
      name: 'broker-kill',
      source: { topics: [input], groupId },
      deadLetter: { topic: dlq },
      maxInFlight: 100,
      commitIntervalMs: 500,
      // kafkajs restarts its consumer after the outage with a new member id; the coordinator (which reloaded the group)
      // waits for the old member's session to expire before the rejoin completes: 30 s with kafkajs' default
      consumer: { sessionTimeoutMs: 6_000, heartbeatIntervalMs: 1_000 },
      build: (records) =>
        records.pipe(
          work(() => 10),
          publish(output),
        ),
    });
    const app = await startTributary({
      pipelines: [pipeline],
      kafka: { brokers: [broker.bootstrap], clientId: 'tributary-test-broker-kill' },
      logger: logs.logger,
      port: 0,
      host: '127.0.0.1',
    });
    const readiness = watchReadiness(`http://127.0.0.1:${app.port}/readyz`);
    const outages: Outage[] = [];
    let left = n;
    const commitWait = (what: string, done: (left: number) => boolean, timeoutMs: number) =>
      eventually(
        async () => {
          left = await uncommitted(kafka, groupId, input).catch(() => left);
          return done(left);
        },
        what,
        timeoutMs,
      ).catch((error: unknown) => {
        throw new Error(`${String(error)}: ${left} of ${n} uncommitted; engine said: ${logs.summary()}`);
      });
    try {
      await eventually(() => readiness.last()?.status === 200, '/readyz 200 before the first outage');
      for (const killWhenLeft of [Math.round(n * 0.8), Math.round(n * 0.5)]) {
        await commitWait(`the group to commit down to ${killWhenLeft} left`, (l) => l <= killWhenLeft, 60_000);
        const leftAtKill = left;
        const killedAt = performance.now();
        await broker.kill();
        trace(`broker killed with ${leftAtKill} uncommitted`);
        const first503 = await readiness.waitFor((p) => p.status === 503 && p.at > killedAt, NOTICE_BOUND_MS);
        if (first503) await sleep(HOLD_DOWN_MS);
        const restartAt = performance.now();
        trace(first503 ? 'readyz 503 seen' : `no 503 within ${NOTICE_BOUND_MS} ms; restarting the broker`);
        await broker.restart();
        const backAt = performance.now();
        trace('broker answers again');
        const outage: Outage = {
          ...(first503 ? { to503: Math.round(first503.at - killedAt) } : {}),
          downMs: Math.round(backAt - killedAt),
          brokerStartMs: Math.round(backAt - restartAt),
          reasons503: [...new Set(readiness.between(killedAt, backAt).flatMap((p: ReadinessProbe) => [...p.reasons]))],
        };
        outages.push(outage);
        expect.soft(first503, `outage ${outages.length}: /readyz 503 within ${NOTICE_BOUND_MS} ms`).toBeDefined();
        // recovering by itself: committing again (a stall here fails the test with what the engine logged)
        await commitWait(
          'the group to commit again after the broker came back',
          (l) => l < leftAtKill,
          RECOVERY_BOUND_MS,
        );
        outage.toProgress = Math.round(performance.now() - backAt);
        const first200 = await readiness.waitFor((p) => p.status === 200 && p.at > backAt, RECOVERY_BOUND_MS);
        if (first200) outage.to200 = Math.round(first200.at - backAt);
        expect.soft(first200, `outage ${outages.length}: /readyz 200 after the broker came back`).toBeDefined();
        trace(`committing again after ${outage.toProgress} ms`);
      }
      await commitWait('the group to commit the whole input', (l) => l === 0, RECOVERY_BOUND_MS);
      const published = await readToEnd(kafka, output);
      const deadLetters = await readToEnd(kafka, dlq);
      const result = delivery(
        ids,
        published.map((r) => r.value?.toString() ?? ''),
      );
      console.info(
        `[broker kill test] ${n} records, broker SIGKILLed twice: ${describeDelivery(result)}, ` +
          `${deadLetters.length} dead letters; ${outages.map(describeOutage).join('; ')}; engine warnings: ${logs.summary(5)}`,
      );
      expect(result.lost).toEqual([]);
      expect(result.unexpected).toEqual([]);
      expect(deadLetters).toHaveLength(0);
    } catch (error) {
      // say what was measured before the failure, and what the broker holds now
      const published = await readToEnd(kafka, output, 20_000).catch(() => undefined);
      const deadLetters = await readToEnd(kafka, dlq, 20_000).catch(() => undefined);
      const result =
        published &&
        delivery(
          ids,
          published.map((r) => r.value?.toString() ?? ''),
        );
      const reasons = deadLetters?.map((r) => r.headers['kafka_dlt-exception-message']?.toString().slice(0, 80) ?? '');
      const engine = app.status().pipelines.map((p) => `${p.name} ${p.state} ready=${p.ready} inFlight=${p.inFlight}`);
      console.info(
        `[broker kill test] FAILED: ${left} of ${n} uncommitted (engine: ${engine.join(', ')}); in the output so far: ` +
          `${result ? describeDelivery(result) : 'unreadable'}; ${deadLetters?.length ?? 'unreadable'} dead letters` +
          `${reasons?.length ? ` (${[...new Set(reasons)].slice(0, 3).join(' | ')})` : ''}; ` +
          `${outages.map(describeOutage).join('; ')}; engine warnings: ${logs.summary(5)}`,
      );
      throw error;
    } finally {
      await readiness.stop();
      await app.stop().catch(() => {});
      await app.close();
    }
  }, 240_000);
});
