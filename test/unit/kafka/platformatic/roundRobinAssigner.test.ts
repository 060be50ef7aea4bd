import type { ClusterMetadata, ExtendedGroupProtocolSubscription } from '@platformatic/kafka';
import { describe, expect, it } from 'vitest';
import { roundRobinAssigner } from '../../../../src/kafka/platformatic/roundRobinAssigner.js';

function members(subscriptions: Record<string, string[]>): Map<string, ExtendedGroupProtocolSubscription> {
  return new Map(
    Object.entries(subscriptions).map(([memberId, topics]) => [memberId, { memberId, version: 0, topics }]),
  );
}

function metadata(partitions: Record<string, number>): ClusterMetadata {
  const topics = new Map(Object.entries(partitions).map(([topic, partitionsCount]) => [topic, { partitionsCount }]));
  return { topics } as unknown as ClusterMetadata;
}

/** memberId → "topic/partition" list, for reading. */
function dealt(result: ReturnType<typeof roundRobinAssigner>): Record<string, string[]> {
  return Object.fromEntries(
    result.map((m) => [
      m.memberId,
      [...m.assignments.values()].flatMap((a) => a.partitions.map((p) => `${a.topic}/${p}`)),
    ]),
  );
}

describe('roundRobinAssigner (Java RoundRobinAssignor)', () => {
  it('deals partitions to members in member-id order, not join order', () => {
    // joined first, but sorts last: a lone partition goes to the member whose id sorts first
    const result = roundRobinAssigner(
      'zz-1',
      members({ 'zz-1': ['t'], 'aa-1': ['t'] }),
      new Set(['t']),
      metadata({ t: 1 }),
    );
    expect(dealt(result)).toEqual({ 'aa-1': ['t/0'], 'zz-1': [] });
    const three = roundRobinAssigner(
      'b',
      members({ c: ['t'], a: ['t'], b: ['t'] }),
      new Set(['t']),
      metadata({ t: 5 }),
    );
    expect(dealt(three)).toEqual({ a: ['t/0', 't/3'], b: ['t/1', 't/4'], c: ['t/2'] });
  });

  it('gives a member only topics it subscribes to, including topics the leader does not consume', () => {
    const result = roundRobinAssigner(
      'a',
      members({ a: ['orders'], b: ['payments'], c: ['orders', 'payments'] }),
      new Set(['orders']),
      metadata({ orders: 2, payments: 3 }),
    );
    expect(dealt(result)).toEqual({ a: ['orders/0'], b: ['payments/0', 'payments/2'], c: ['orders/1', 'payments/1'] });
  });
});
