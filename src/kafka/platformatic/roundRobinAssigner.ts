/**
 * The group leader's partition assignment, as Kafka's Java RoundRobinAssignor (and kafkajs) computes it: every
 * subscribed topic-partition in order (topic, then partition), dealt to the members in member-id order, each partition
 * to the next member that subscribes to its topic. @platformatic/kafka's own round-robin deals the leader's topics to
 * every member in join order, so a member could get a topic it does not consume (its records would then wait for
 * nobody), and which member gets a lone partition would depend on who joined first.
 */
import type { GroupAssignment, GroupPartitionsAssigner, GroupPartitionsAssignments } from '@platformatic/kafka';

export const roundRobinAssigner: GroupPartitionsAssigner = (_leader, members, _leaderTopics, metadata) => {
  const memberIds = [...members.keys()].sort();
  const subscriptions = new Map(memberIds.map((id) => [id, new Set(members.get(id)?.topics ?? [])]));
  const topics = [...new Set(memberIds.flatMap((id) => [...(subscriptions.get(id) ?? [])]))].sort();
  const assignments: GroupPartitionsAssignments[] = memberIds.map((memberId) => ({
    memberId,
    assignments: new Map<string, GroupAssignment>(),
  }));
  let turn = 0;
  for (const topic of topics) {
    const count = metadata.topics.get(topic)?.partitionsCount ?? 0;
    for (let partition = 0; partition < count; partition++) {
      for (let tried = 0; tried < memberIds.length; tried++) {
        const member = assignments[turn++ % memberIds.length] as GroupPartitionsAssignments;
        if (!subscriptions.get(member.memberId)?.has(topic)) continue;
        const owned = member.assignments.get(topic) ?? { topic, partitions: [] };
        owned.partitions.push(partition);
        member.assignments.set(topic, owned);
        break;
      }
    }
  }
  return assignments;
};
