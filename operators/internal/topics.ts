/** Kafka topic names in operator options: checked when the pipeline is built, like definePipeline's. */
import * as z from 'zod';

/** A Kafka topic name: `[A-Za-z0-9._-]`, 1 to 249 characters, not `.` or `..`. */
export const TOPIC_NAME_PATTERN = /^[A-Za-z0-9._-]{1,249}$/;

export function isTopicName(value: string): boolean {
  return TOPIC_NAME_PATTERN.test(value) && value !== '.' && value !== '..';
}

export const topicNameSchema = z
  .string()
  .refine(isTopicName, 'a Kafka topic name: [A-Za-z0-9._-], 1–249 characters, not "." or ".."')
  .describe('A Kafka topic name.');
