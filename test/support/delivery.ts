/**
 * At-least-once accounting of a run: which input ids never reached an output ("lost") and how many output records
 * repeat an id already seen ("duplicates" = output records − distinct ids).
 */
import type { Kafka } from 'kafkajs';

export interface Delivery {
  /** Distinct input ids seen in the outputs. */
  readonly distinct: number;
  /** Input ids in no output (sorted as given); the first few are printed by `describeDelivery`. */
  readonly lost: readonly string[];
  /** Output records minus distinct ids. */
  readonly duplicates: number;
  /** Output ids that are not input ids (should never happen). */
  readonly unexpected: readonly string[];
}

export function delivery(inputIds: readonly string[], outputIds: readonly string[]): Delivery {
  const expected = new Set(inputIds);
  const seen = new Set<string>();
  const unexpected = new Set<string>();
  for (const id of outputIds) {
    if (expected.has(id)) seen.add(id);
    else unexpected.add(id);
  }
  return {
    distinct: seen.size,
    lost: inputIds.filter((id) => !seen.has(id)),
    duplicates: outputIds.length - seen.size - unexpected.size,
    unexpected: [...unexpected],
  };
}

export function describeDelivery(d: Delivery): string {
  const sample = d.lost.length > 0 ? ` (first lost: ${d.lost.slice(0, 10).join(',')})` : '';
  return `lost ${d.lost.length}${sample}, duplicates ${d.duplicates}, distinct ${d.distinct}`;
}

/** Records of `groupId` not yet committed on `topic`: Σ(end offset − committed offset), a partition never committed counting from 0. */
export async function uncommitted(kafka: Kafka, groupId: string, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ends = await admin.fetchTopicOffsets(topic);
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const at = new Map((committed?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
    let left = 0;
    for (const end of ends) left += Number(end.high) - Math.max(0, at.get(end.partition) ?? 0);
    return left;
  } finally {
    await admin.disconnect();
  }
}
