/**
 * Creating topics with kafkajs and waiting until every partition has a leader. kafkajs' own `waitForLeaders` retries
 * only LEADER_NOT_AVAILABLE, but a broker that has just created a topic may first answer its metadata with
 * UNKNOWN_TOPIC_OR_PARTITION ("This server does not host this topic-partition") or NOT_LEADER_OR_FOLLOWER; kafkajs
 * then rejects although the topic was created. Here those answers mean "not yet", until a deadline. Metadata may
 * also name a leader before that leader serves the partition (a ListOffsets just after it answered
 * NOT_LEADER_OR_FOLLOWER), so a topic counts as ready once its offsets can be read too.
 */
import type { Admin, ITopicConfig } from 'kafkajs';
import { causeChain } from '../errors.js';

/** Metadata answers that only say a new topic has not reached every broker yet. */
const NOT_YET: ReadonlySet<string> = new Set([
  'UNKNOWN_TOPIC_OR_PARTITION',
  'LEADER_NOT_AVAILABLE',
  'NOT_LEADER_OR_FOLLOWER',
  'NOT_LEADER_FOR_PARTITION',
]);

function notYet(error: unknown): boolean {
  for (const link of causeChain(error)) {
    const { type } = link as { type?: unknown };
    if (typeof type === 'string' && NOT_YET.has(type)) return true;
  }
  return false;
}

export interface LeaderWaitOptions {
  /** Give up after this long. Default 30 s. */
  timeoutMs?: number;
  /** Between two metadata requests. Default 100 ms. */
  intervalMs?: number;
}

/** The admin calls this needs (a kafkajs Admin has them). */
export type TopicAdmin = Pick<Admin, 'createTopics' | 'fetchTopicMetadata' | 'fetchTopicOffsets'>;

/** Resolves once every partition of `topics` has a leader; rejects after `timeoutMs`, naming what is missing. */
export async function waitForLeaders(
  admin: Pick<Admin, 'fetchTopicMetadata' | 'fetchTopicOffsets'>,
  topics: readonly string[],
  options: LeaderWaitOptions = {},
): Promise<void> {
  const { timeoutMs = 30_000, intervalMs = 100 } = options;
  const deadline = Date.now() + timeoutMs;
  let missing = 'no metadata yet';
  for (;;) {
    try {
      const metadata = await admin.fetchTopicMetadata({ topics: [...topics] });
      const leaderless = metadata.topics.flatMap((t) =>
        t.partitions.length === 0
          ? [`${t.name} (no partitions)`]
          : t.partitions.filter((p) => p.leader < 0).map((p) => `${t.name}/${p.partitionId}`),
      );
      const unknown = topics.filter((name) => !metadata.topics.some((t) => t.name === name));
      missing = [...unknown, ...leaderless].join(', ');
      if (missing === '') {
        for (const topic of topics) await admin.fetchTopicOffsets(topic);
        return;
      }
    } catch (error) {
      if (!notYet(error)) throw error;
      missing = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() >= deadline) throw new Error(`topics without a leader after ${timeoutMs} ms: ${missing}`);
    await new Promise((done) => setTimeout(done, intervalMs));
  }
}

/** `admin.createTopics` then {@link waitForLeaders}; resolves with what kafkajs answers (false: one existed already). */
export async function createTopicsWithLeaders(
  admin: TopicAdmin,
  topics: readonly ITopicConfig[],
  options: LeaderWaitOptions = {},
): Promise<boolean> {
  const created = await admin.createTopics({ topics: [...topics], waitForLeaders: false });
  await waitForLeaders(
    admin,
    topics.map((t) => t.topic),
    options,
  );
  return created;
}
