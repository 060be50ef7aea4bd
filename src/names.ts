/**
 * The two names users give Tributary, checked in one place: Kafka topic names (definePipeline, operator options,
 * the CLI) and stage names (every operator's `name`, a pipeline's `name`).
 */
import * as z from 'zod';

/** A Kafka topic name: `[A-Za-z0-9._-]`, 1 to 249 characters, not `.` or `..` (Kafka's own rule). */
export const TOPIC_NAME_PATTERN = /^[A-Za-z0-9._-]{1,249}$/;

export const TOPIC_NAME_RULE = '[A-Za-z0-9._-], 1–249 characters, not "." or ".."';

export function isTopicName(value: string): boolean {
  return TOPIC_NAME_PATTERN.test(value) && value !== '.' && value !== '..';
}

export const topicNameSchema = z
  .string()
  .refine(isTopicName, `a Kafka topic name: ${TOPIC_NAME_RULE}`)
  .describe('A Kafka topic name.');

/**
 * Stage names (and pipeline names) become metric labels, log bindings and dead-letter headers: `[A-Za-z0-9._-]`,
 * 1 to 100 characters (Kafka Streams' `Named` rule).
 */
export const STAGE_NAME_PATTERN = /^[A-Za-z0-9._-]{1,100}$/;

export const STAGE_NAME_RULE = 'A-Z, a-z, 0-9, ".", "_" and "-" (1 to 100 characters)';

export function isStageName(value: string): boolean {
  return STAGE_NAME_PATTERN.test(value);
}

/** The `name` option every stage takes. */
export const stageNameSchema = z
  .string()
  .regex(STAGE_NAME_PATTERN, `a stage name may only contain ${STAGE_NAME_RULE}`)
  .describe('Stage name: metric label, log binding, tributary-stage header. Set it to keep it stable across edits.');
