/**
 * What an operator factory tells `tributary describe` about the stage it made: its name, its kind and the topics it
 * writes to. Operators carry it on the operator function (a symbol property); `inspectPipeline` reads it by applying
 * a pipeline's `build` to a probe that records the stages without running anything.
 */
import { isObservable, tap } from 'rxjs';
import { TrackedTicket } from '../offsets/partitionTracker.js';

/** The property under which an operator function carries its {@link StageInfo}. */
export const STAGE_INFO: unique symbol = Symbol.for('tributary.stage');

/** The method a stage probe (see inspectPipeline) answers to: a described operator applied to it records itself. */
export const STAGE_PROBE: unique symbol = Symbol.for('tributary.stage-probe');

export interface StageInfo {
  /** The stage name (metric label, log binding, `tributary-stage` header). */
  readonly name: string;
  /** The operator that made the stage, e.g. `'publish'`, `'retryViaTopics'`. */
  readonly kind: string;
  /** Topics the stage writes to, known when the pipeline is defined. */
  readonly outputTopics?: readonly string[];
  /**
   * Topics that depend on the source topic: `{source}` stands for each source topic of the pipeline (a delay topic's
   * `.retry.<delay>` suffix removed, i.e. the record's original topic), e.g. `'{source}.retry.10s'`.
   */
  readonly outputTopicTemplates?: readonly string[];
  /** The stage also writes to topics chosen per record (not listed). */
  readonly dynamicOutputs?: boolean;
  /** Nested operator chains by branch name (route's chain targets); their stages are listed under this one. */
  readonly branches?: Readonly<Record<string, unknown>>;
}

interface StageProbe {
  [STAGE_PROBE](info: StageInfo): unknown;
}

function isStageProbe(value: unknown): value is StageProbe {
  return (
    typeof value === 'object' && value !== null && typeof (value as Partial<StageProbe>)[STAGE_PROBE] === 'function'
  );
}

/**
 * Returns `operator` described by `info`: the same operator (applied to an Observable it does exactly what
 * `operator` does), carrying `info` under {@link STAGE_INFO}; applied to a stage probe it records `info` instead.
 */
export function describeStage<F extends (source: never) => unknown>(operator: F, info: StageInfo): F {
  const apply = operator as unknown as (source: unknown) => unknown;
  const described = (source: unknown): unknown =>
    isStageProbe(source) ? source[STAGE_PROBE](info) : notingPassage(apply(source), info.name);
  Object.defineProperty(described, STAGE_INFO, { value: info, enumerable: false });
  return described as unknown as F;
}

/**
 * The stage's output with each element's record noting that it passed this stage (what a stuck-record warning names
 * as the last stage a record passed). Only the engine's own tickets keep it; anything else passes untouched.
 */
function notingPassage(output: unknown, stage: string): unknown {
  if (!isObservable(output)) return output;
  return output.pipe(
    tap((element: unknown) => {
      const ticket = (element as { ticket?: unknown } | null)?.ticket;
      if (ticket instanceof TrackedTicket) ticket.entry.lastStage = stage;
    }),
  );
}

/** The {@link StageInfo} of an operator function made by a Tributary operator, or undefined. */
export function stageInfoOf(fn: unknown): StageInfo | undefined {
  if (typeof fn !== 'function') return undefined;
  const info = (fn as { [STAGE_INFO]?: unknown })[STAGE_INFO];
  return typeof info === 'object' && info !== null ? (info as StageInfo) : undefined;
}
