import { filter, type OperatorFunction } from 'rxjs';
import * as z from 'zod';
import type { Element, Envelope, FailedEnvelope } from '../src/envelope.js';
import { recordBindings } from '../src/logger.js';
import { stageNameSchema, topicNameSchema } from '../src/names.js';
import { describeStage } from '../src/runtime/stageInfo.js';
import { checkOptions } from './internal/options.js';

/** Options of {@link branchToDeadLetter}. */
export interface BranchToDeadLetterOptions {
  /** The dead-letter topic. Default: the pipeline's `deadLetter.topic`. */
  topic?: string;
  /** Stage name (`[A-Za-z0-9._-]`): the log binding of this stage. Default `'branchToDeadLetter'`. */
  name?: string;
}

/** The runtime check and reference documentation of {@link BranchToDeadLetterOptions}. */
export const branchToDeadLetterOptionsSchema = z
  .strictObject({
    topic: topicNameSchema.optional().describe("The dead-letter topic. Default: the pipeline's deadLetter.topic."),
    name: stageNameSchema.optional(),
  })
  .describe('Options of branchToDeadLetter(): dead-letter failed elements, let typed ok elements continue.');

/**
 * Publishes failed elements to a dead-letter topic and lets the ok elements continue, typed without failures.
 *
 * <span class="informal">A `filter` for ok elements whose rejected half goes to the dead-letter topic.</span>
 *
 * Each failed element is handed to `element.context.deadLetter(element, topic)`, which publishes the dead-letter
 * record of `src/runtime/deadLetterRecord.ts` (the original raw value, key and headers, Spring's `kafka_dlt-*`
 * headers and `tributary-pipeline`, `tributary-stage`, `tributary-attempts`, `tributary-error-code`), retries until
 * the broker acknowledged it and only then finishes the record as `dead_lettered`. If the dead-letter publish cannot
 * succeed, the record stays unfinished: its offset is never committed and it is re-delivered after a restart. Nothing
 * waits for the publish: ok elements (of this lane and of every other) flow on at once, and the failed element is not
 * emitted.
 *
 * ```text
 * --a--X--b--Y--|      X, Y failed elements
 *   branchToDeadLetter()
 * --a-----b-----|      X and Y go to the dead-letter topic (finished 'dead_lettered' once acknowledged)
 * ```
 *
 * @example
 * ```ts
 * records.pipe(
 *   parseJson(),
 *   validate(TranscriptRequested),
 *   branchToDeadLetter(),                       // Observable<Envelope<TranscriptRequested>>: no failures past here
 *   publish('video.embedding.requested'),
 * );
 * records.pipe(parseJson(), branchToDeadLetter('video.dlq.parse'));
 * ```
 * @see publish
 * @param topicOrOptions the dead-letter topic, or `{ topic, name }`; default: the pipeline's dead-letter topic
 * @returns an operator that emits only the ok elements
 */
export function branchToDeadLetter<T>(
  topicOrOptions: string | BranchToDeadLetterOptions = {},
): OperatorFunction<Element<T>, Envelope<T>> {
  const options: BranchToDeadLetterOptions =
    typeof topicOrOptions === 'string' ? { topic: topicOrOptions } : topicOrOptions;
  checkOptions('branchToDeadLetter', branchToDeadLetterOptionsSchema, options);
  const { topic, name = 'branchToDeadLetter' } = options;

  const deadLetter = (element: FailedEnvelope): void => {
    let pending: Promise<void>;
    try {
      pending = element.context.deadLetter(element, topic);
    } catch (error) {
      pending = Promise.reject(error);
    }
    pending.catch((error: unknown) => {
      element.context.logger.error(
        { stage: name, ...recordBindings(element.origin), err: error },
        'branchToDeadLetter: dead-letter publish failed; the record stays unfinished (not committed)',
      );
    });
  };

  return describeStage(
    filter((element: Element<T>): element is Envelope<T> => {
      if (element.ok) return true;
      deadLetter(element);
      return false;
    }),
    { name, kind: 'branchToDeadLetter', outputTopics: topic === undefined ? [] : [topic] },
  );
}
