/**
 * Which of the engine's static destinations (output and dead-letter topics) do not exist. Checked at start-up so a
 * typo is reported at once instead of showing up as records failing one by one; the engine still starts, since a
 * broker that auto-creates topics would create them on first use.
 */
import type { AdminPort } from '../kafka/ports.js';

/** The topics of `topics` the broker does not have, each once, in the order given. */
export async function missingTopics(
  admin: Pick<AdminPort, 'listTopics'>,
  topics: readonly string[],
): Promise<string[]> {
  if (topics.length === 0) return [];
  const existing = new Set(await admin.listTopics());
  return [...new Set(topics)].filter((topic) => !existing.has(topic));
}
