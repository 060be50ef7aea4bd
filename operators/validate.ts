import { map, type OperatorFunction } from 'rxjs';
import * as z from 'zod';
import { type Element, withValue } from '../src/envelope.js';
import { errorMessage, TributaryError } from '../src/errors.js';
import { stageNameSchema } from '../src/names.js';
import { describeStage } from '../src/runtime/stageInfo.js';
import { failAt } from './internal/failure.js';
import { formatIssues } from './internal/formatIssues.js';
import { checkOptions } from './internal/options.js';

/** Options of {@link validate}. */
export interface ValidateOptions {
  /** Stage name (`[A-Za-z0-9._-]`): metric label, log binding, `tributary-stage` header. Default `'validate'`. */
  name?: string;
  /** Longest failure message, in characters; longer lists of issues are cut and end with '…'. Default 1000. */
  maxReasonLength?: number;
}

/** The runtime check and reference documentation of {@link ValidateOptions}. */
export const validateOptionsSchema = z
  .strictObject({
    name: stageNameSchema.optional(),
    maxReasonLength: z
      .number()
      .int()
      .min(16)
      .optional()
      .describe("Longest failure message, in characters; longer lists of issues end with '…'. Default 1000."),
  })
  .describe('Options of validate(): check each value against a zod schema.');

/**
 * Throws `TRIBUTARY_ERR_PIPELINE_DEFINITION` unless `schema` is a zod 4 schema (classic or mini: both carry `_zod`).
 * A zod 3 schema would otherwise fail every record with "Cannot read properties of undefined".
 */
function checkZod4Schema(schema: unknown): void {
  if (typeof schema === 'object' && schema !== null && '_zod' in schema) return;
  const got =
    typeof schema === 'object' && schema !== null && '_def' in schema
      ? 'a zod 3 one (it has no _zod property)'
      : schema === null || typeof schema !== 'object'
        ? String(schema)
        : 'an object that is not a zod schema';
  throw new TributaryError(
    'TRIBUTARY_ERR_PIPELINE_DEFINITION',
    `validate: zod 4 schema expected, got ${got}; with zod 3.25 import { z } from 'zod/v4'`,
  );
}

/**
 * Checks each value against a zod schema; the output is typed by the schema.
 *
 * <span class="informal">Values in, schema-checked (and transformed) values out; mismatches become failed
 * elements.</span>
 *
 * Runs `safeParse` synchronously, so the output value is the schema's output (defaults applied, transforms run).
 * A mismatch becomes a failed element with code `TRIBUTARY_ERR_VALIDATION` (never retried) whose message lists the
 * issues as `path: message; ...` (cut to `maxReasonLength`) and whose `details` holds zod's issues array as is.
 * A schema that throws (a throwing transform, or an asynchronous refinement, which this synchronous stage cannot
 * run) fails the record the same way. Failed input elements pass through untouched.
 *
 * ```text
 * --a-----b-----|      a = { id: 1 }   b = { id: 'x' }
 *   validate(z.object({ id: z.number() }))
 * --A-----B-----|      A = { id: 1 }   B = failed 'id: Invalid input: expected number, received string'
 * ```
 *
 * @example
 * ```ts
 * const Order = z.object({ orderId: z.string(), total: z.number().nonnegative() });
 * records.pipe(parseJson(), validate(Order, { name: 'orders.validate' })); // Element<{ orderId: string; total: number }>
 * ```
 * @see parseJson
 * @param schema any zod 4 schema (classic or mini; with zod 3.25, one from `zod/v4`); a zod 3 schema throws
 *   `TRIBUTARY_ERR_PIPELINE_DEFINITION`
 * @param options stage name and message length
 * @returns an operator whose ok elements hold `z.output<typeof schema>`
 */
export function validate<S extends z.core.$ZodType>(
  schema: S,
  options: ValidateOptions = {},
): OperatorFunction<Element<unknown>, Element<z.output<S>>> {
  checkZod4Schema(schema);
  checkOptions('validate', validateOptionsSchema, options);
  const { name = 'validate', maxReasonLength = 1000 } = options;
  return describeStage(
    map((element): Element<z.output<S>> => {
      if (!element.ok) return element;
      let result: z.ZodSafeParseResult<z.output<S>>;
      try {
        result = z.safeParse(schema, element.value);
      } catch (error) {
        return failAt(element, name, 'TRIBUTARY_ERR_VALIDATION', `schema threw: ${errorMessage(error)}`, {
          cause: error,
        });
      }
      if (result.success) return withValue(element, result.data);
      const { issues } = result.error;
      return failAt(element, name, 'TRIBUTARY_ERR_VALIDATION', formatIssues(issues, maxReasonLength), {
        cause: result.error,
        details: issues,
      });
    }),
    { name, kind: 'validate' },
  );
}
