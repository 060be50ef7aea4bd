/**
 * Shared option checking for operators: every operator validates its options once, when the pipeline is built,
 * against its exported zod schema, so a typo or an out-of-range value fails at start-up instead of on a record.
 * Naming: an operator's options are `XxxOptions`, checked by `xxxOptionsSchema` (`Config` is for configuration the
 * process loads or is given to run: `TributaryConfig`, `KafkaConnectionConfig`, `PipelineConfig`).
 */
import type { SchedulerLike } from 'rxjs';
import * as z from 'zod';
import { TributaryError } from '../../src/errors.js';
import { formatIssues } from './formatIssues.js';

/**
 * The type of an option as docs/operators.md shows it, for the options zod cannot describe (functions, objects):
 * `.meta({ [TS_TYPE]: '(error) => boolean' })`. `npm run docs:operators` reads it.
 */
export const TS_TYPE = 'tsType';

/** A function-valued option; `signature` is what the reference docs show as its type. */
export function functionSchema<F>(signature: string, description: string) {
  return z
    .custom<F>((value) => typeof value === 'function', { message: 'expected a function' })
    .meta({ description, [TS_TYPE]: signature });
}

/** An RxJS scheduler option. */
export const schedulerSchema = z
  .custom<SchedulerLike>(
    (value) =>
      typeof value === 'object' &&
      value !== null &&
      typeof (value as SchedulerLike).now === 'function' &&
      typeof (value as SchedulerLike).schedule === 'function',
    { message: 'expected an RxJS scheduler' },
  )
  .meta({
    description: 'RxJS scheduler for the timed parts. Default asyncScheduler (tests pass a TestScheduler).',
    [TS_TYPE]: 'SchedulerLike',
  });

/**
 * Throws `TRIBUTARY_ERR_PIPELINE_DEFINITION` when `options` does not match `schema`. The caller keeps using its own
 * typed `options` (functions keep their identity); the schema is the runtime check and the documentation.
 */
export function checkOptions(operator: string, schema: z.core.$ZodType, options: unknown): void {
  const result = z.safeParse(schema, options ?? {});
  if (!result.success) {
    throw new TributaryError(
      'TRIBUTARY_ERR_PIPELINE_DEFINITION',
      `${operator}: invalid options: ${formatIssues(result.error.issues)}`,
      { details: result.error.issues },
    );
  }
}
