/**
 * Issue 11 §5: three engine processes in one consumer group, instances killed (SIGKILL) and started during a
 * 50,000-record run. Nothing is lost; duplicates are reported and stay within a bound derived below.
 */
import { describe, expect, it } from 'vitest';
import type { Child } from '../../support/childProcess.js';
import { delivery, describeDelivery, uncommitted } from '../../support/delivery.js';
import { eventually } from '../../support/engine.js';
import { type FaultWorkerEnv, killWorker, startFaultWorker } from '../../support/faultWorkers.js';
import { bootstrapServers, collect, createTopic, produce, testKafka, uniqueName } from '../../support/kafka.js';
import { readToEnd } from '../../support/readToEnd.js';

const n = 50_000;
const PARTITIONS = 12;
const MAX_IN_FLIGHT = 100;
const COMMIT_INTERVAL_MS = 200;
/** Every record spends exactly this long in the work stage. */
const WORK_MS = 8;
/** A commit's own round trip on a local broker, generously. */
const COMMIT_SLACK_MS = 300;

/**
 * Why duplicates are bounded. A record is published twice only when its partition changes owner after it was
 * published and before its offset was committed. That happens at each membership change: a SIGKILL (the killed
 * member's partitions restart from its last commit), and each rebalance (a start, or a killed member's session
 * expiring), where every live member commits its finished work and the new owner redoes what was in flight.
 * At one such change, per member:
 *   - records in flight (admitted, possibly already written by the broker but not acknowledged): ≤ maxInFlight;
 *   - records finished since its last commit: commits run every COMMIT_INTERVAL_MS (+ their round trip), and with
 *     `partition` ordering each partition passes one record at a time through the WORK_MS stage, so a member that
 *     owns p partitions finishes at most p × (COMMIT_INTERVAL_MS + COMMIT_SLACK_MS) / WORK_MS records in that time.
 * Summed over the members (who own PARTITIONS together): members × maxInFlight + PARTITIONS × (interval + slack) / work.
 */
function duplicateBound(changes: number, members: number): number {
  const perChange =
    members * MAX_IN_FLIGHT + Math.ceil((PARTITIONS * (COMMIT_INTERVAL_MS + COMMIT_SLACK_MS)) / WORK_MS);
  return changes * perChange;
}

describe('faults: a group of three engine processes with members killed and started', () => {
  it('loses nothing over a 50,000-record run, with duplicates within the in-flight and commit-interval bound', async () => {
    const input = await createTopic('fgk-in', PARTITIONS);
    const output = await createTopic('fgk-out', PARTITIONS);
    const dlq = await createTopic('fgk-dlq', 1);
    const ids = Array.from({ length: n }, (_, i) => String(i));
    await produce(
      input,
      ids.map((id) => ({ key: `k${Number(id) % 500}`, value: id })),
    );
    const out = await collect(output);
    const env: FaultWorkerEnv = {
      KAFKA_BROKERS: bootstrapServers().join(','),
      IN: input,
      OUT: output,
      DLQ: dlq,
      GROUP: uniqueName('fgk-group'),
      ORDERING: 'partition',
      WORK_MS: String(WORK_MS),
      WORK_MIN_MS: String(WORK_MS),
      MAX_IN_FLIGHT: String(MAX_IN_FLIGHT),
      COMMIT_INTERVAL_MS: String(COMMIT_INTERVAL_MS),
      // a killed member holds its partitions until its session expires: keep that short (the broker's minimum)
      SESSION_TIMEOUT_MS: '6000',
      HEARTBEAT_INTERVAL_MS: '1000',
    };

    let starts = 0;
    let kills = 0;
    const events: string[] = [];
    const start = async (name: string): Promise<Child> => {
      const child = await startFaultWorker(env);
      starts++;
      events.push(`${name} up at ${out.records.length}`);
      return child;
    };
    const kill = async (name: string, child: Child): Promise<void> => {
      await killWorker(child);
      kills++;
      events.push(`${name} killed at ${out.records.length}`);
    };

    const [a, b, c] = await Promise.all([start('A'), start('B'), start('C')]);
    if (!a || !b || !c) throw new Error('three workers expected');
    await out.waitFor(8_000, 60_000);
    await kill('A', a);
    const d = await start('D');
    await out.waitFor(20_000, 60_000);
    await kill('B', b);
    await out.waitFor(32_000, 60_000);
    await kill('C', c);
    const e = await start('E');

    const kafka = testKafka('fgk-check');
    let left = n;
    await eventually(
      async () => {
        left = await uncommitted(kafka, env.GROUP, input);
        return left === 0;
      },
      'the group to commit the whole input',
      90_000,
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}: ${left} of ${n} uncommitted (${events.join(', ')}); D said:\n${d.stderr()}`);
    });
    d.process.kill('SIGTERM');
    e.process.kill('SIGTERM');
    expect(await d.exited()).toBe(0);
    expect(await e.exited()).toBe(0);

    const published = await readToEnd(kafka, output);
    const deadLetters = await readToEnd(kafka, dlq);
    const result = delivery(
      ids,
      published.map((r) => r.value?.toString() ?? ''),
    );
    // a kill is two changes (the kill, then its session expiring); a start is one
    const changes = 2 * kills + starts;
    const bound = duplicateBound(changes, 3);
    console.info(
      `[group kill test] ${n} records, ${PARTITIONS} partitions, ${starts} starts and ${kills} SIGKILLs ` +
        `(${events.join(', ')}): ${describeDelivery(result)}, ${deadLetters.length} dead letters; ` +
        `duplicate bound ${bound} (${changes} membership changes, maxInFlight ${MAX_IN_FLIGHT}, commit every ${COMMIT_INTERVAL_MS} ms)`,
    );
    expect(result.lost).toEqual([]);
    expect(result.unexpected).toEqual([]);
    expect(deadLetters).toHaveLength(0);
    expect(result.duplicates).toBeLessThanOrEqual(bound);
  }, 180_000);
});
