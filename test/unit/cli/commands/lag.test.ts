import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lagCommand, lagTable, readLag } from '../../../../src/cli/commands/lag.js';
import { fakeKafka } from '../fakeKafka.js';
import { recordedIo } from '../io.js';

const root = join(import.meta.dirname, '..', '..', '..', '..');
const relayFolder = join('test', 'fixtures', 'pipelines', 'relay');

describe('lag arithmetic and table', () => {
  it('computes end − committed per partition, the retained log without a commit, and never below 0', async () => {
    const kafka = fakeKafka();
    kafka.ends.set('orders', [
      { partition: 2, low: 40n, high: 100n },
      { partition: 0, low: 0n, high: 1500n },
      { partition: 1, low: 0n, high: 7n },
    ]);
    kafka.committed.set(
      'g\u0000orders',
      new Map([
        [0, 1200n],
        [1, 9n],
      ]),
    );
    const rows = await readLag(kafka.client.admin(), 'g', 'orders');
    expect(rows).toEqual([
      { group: 'g', topic: 'orders', partition: 0, committed: 1200n, end: 1500n, lag: 300n },
      { group: 'g', topic: 'orders', partition: 1, committed: 9n, end: 7n, lag: 0n },
      { group: 'g', topic: 'orders', partition: 2, committed: undefined, end: 100n, lag: 60n },
    ]);
    expect(lagTable(rows)).toEqual([
      'GROUP  TOPIC   PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG',
      'g      orders          0            1200            1500  300',
      'g      orders          1               9               7    0',
      'g      orders          2               -             100  60*',
      '',
      'total lag of g: 360',
      '* no committed offset: the whole retained log counts as lag',
    ]);
  });
});

describe('tributary lag without a broker', () => {
  it('exits 1 with one line when no broker answers', async () => {
    const io = recordedIo({ KAFKA_BROKERS: '127.0.0.1:1', KAFKA_CONNECTION_TIMEOUT: '500' }, { cwd: root });
    const started = Date.now();
    expect(await lagCommand([relayFolder], io)).toBe(1);
    expect(io.err).toHaveLength(1);
    expect(io.err[0]).toMatch(/^tributary: cannot connect to Kafka at 127\.0\.0\.1:1: .*\(check KAFKA_BROKERS\)$/);
    console.info(`[cli lag] unreachable broker reported after ${Date.now() - started} ms`);
  });
});
