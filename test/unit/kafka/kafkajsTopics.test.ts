import { describe, expect, it } from 'vitest';
import { createTopicsWithLeaders, waitForLeaders } from '../../../src/kafka/kafkajsTopics.js';

type Metadata = { topics: { name: string; partitions: { partitionId: number; leader: number }[] }[] };

const protocolError = (type: string) =>
  Object.assign(new Error('This server does not host this topic-partition'), { name: 'KafkaJSProtocolError', type });

/** An admin whose metadata answers are scripted, one per call (the last repeats). */
function scriptedAdmin(answers: (Metadata | Error)[], offsetAnswers: Error[] = []) {
  let calls = 0;
  let offsetCalls = 0;
  const created: string[][] = [];
  return {
    calls: () => calls,
    offsetCalls: () => offsetCalls,
    created,
    admin: {
      createTopics: async ({ topics }: { topics: { topic: string }[] }) => {
        created.push(topics.map((t) => t.topic));
        return true;
      },
      fetchTopicMetadata: async () => {
        const answer = answers[Math.min(calls++, answers.length - 1)] as Metadata | Error;
        if (answer instanceof Error) throw answer;
        return answer;
      },
      fetchTopicOffsets: async () => {
        const answer = offsetAnswers[offsetCalls++];
        if (answer !== undefined) throw answer;
        return [];
      },
    },
  };
}

const led = (name: string, leaders: number[]): Metadata['topics'][number] => ({
  name,
  partitions: leaders.map((leader, partitionId) => ({ partitionId, leader })),
});

describe('creating topics and waiting for their leaders', () => {
  it('treats "does not host this topic-partition" just after creation as not yet, not as a failure', async () => {
    // kafkajs' waitForLeaders rejects on this answer (seen on the broker: "This server does not host this
    // topic-partition" from admin.createTopics({ waitForLeaders: true }) for a topic it had just created)
    const s = scriptedAdmin([
      protocolError('UNKNOWN_TOPIC_OR_PARTITION'),
      protocolError('NOT_LEADER_OR_FOLLOWER'),
      { topics: [led('t', [1, -1])] },
      { topics: [led('t', [1, 1])] },
    ]);
    await expect(
      createTopicsWithLeaders(s.admin as never, [{ topic: 't', numPartitions: 2 }], { intervalMs: 1 }),
    ).resolves.toBe(true);
    expect(s.created).toEqual([['t']]);
    expect(s.calls()).toBe(4);
  });

  it('waits until the leader serves offsets, not only until the metadata names it', async () => {
    // seen on the broker (CI): metadata named a leader for a topic just created, and the ListOffsets that followed
    // answered "This server is not the leader for that topic-partition"
    const s = scriptedAdmin(
      [{ topics: [led('t', [1])] }],
      [protocolError('NOT_LEADER_OR_FOLLOWER'), protocolError('UNKNOWN_TOPIC_OR_PARTITION')],
    );
    await expect(
      createTopicsWithLeaders(s.admin as never, [{ topic: 't', numPartitions: 1 }], { intervalMs: 1 }),
    ).resolves.toBe(true);
    expect(s.offsetCalls()).toBe(3);
  });

  it('fails on other errors at once, and names what has no leader at the deadline', async () => {
    const denied = Object.assign(new Error('denied'), { type: 'TOPIC_AUTHORIZATION_FAILED' });
    await expect(waitForLeaders(scriptedAdmin([denied]).admin as never, ['t'], { intervalMs: 1 })).rejects.toBe(denied);
    await expect(
      waitForLeaders(scriptedAdmin([{ topics: [led('t', [-1])] }]).admin as never, ['t', 'u'], {
        timeoutMs: 20,
        intervalMs: 1,
      }),
    ).rejects.toThrow(/topics without a leader after 20 ms: u, t\/0/);
  });
});
