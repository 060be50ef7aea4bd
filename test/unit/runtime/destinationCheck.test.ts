/** DestinationCheck re-checks missing destinations on its clock (`recheckMs` of clock time), and stops doing so. */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { AdminPort, KafkaClientPort } from '../../../src/kafka/ports.js';
import { DestinationCheck } from '../../../src/runtime/destinationCheck.js';
import { ManualClock } from '../../support/manualClock.js';

/** A client whose admin lists `existing` and counts the listings. */
function client(existing: string[]) {
  const state = { listings: 0 };
  const admin = {
    connect: async () => {},
    disconnect: async () => {},
    listTopics: async () => {
      state.listings++;
      return [...existing];
    },
  } as unknown as AdminPort;
  return { client: { admin: () => admin } as unknown as KafkaClientPort, state };
}

describe('DestinationCheck', () => {
  it('checks a missing destination again every recheckMs of clock time until it exists', async () => {
    const clock = new ManualClock();
    const existing = ['out'];
    const { client: kafka, state } = client(existing);
    const check = new DestinationCheck(kafka, ['out', 'dlq'], pino({ level: 'silent' }), { recheckMs: 15_000, clock });
    await check.start();
    expect(check.missing).toEqual(['dlq']);
    expect(state.listings).toBe(1);
    await clock.advance(14_999);
    expect(state.listings).toBe(1);
    await clock.advance(1);
    expect(state.listings).toBe(2);
    existing.push('dlq');
    await clock.advance(15_000);
    expect(state.listings).toBe(3);
    expect(check.missing).toEqual([]);
    expect(clock.pending).toBe(0); // nothing missing: no more checks
    check.stop();
  });

  it('stop() cancels the next check', async () => {
    const clock = new ManualClock();
    const { client: kafka, state } = client([]);
    const check = new DestinationCheck(kafka, ['dlq'], pino({ level: 'silent' }), { clock });
    await check.start();
    expect(clock.pending).toBe(1);
    check.stop();
    expect(clock.pending).toBe(0);
    await clock.advance(60_000);
    expect(state.listings).toBe(1);
  });
});
