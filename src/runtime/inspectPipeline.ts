/**
 * Lists a pipeline's stages and output topics without running it: `build` is applied to a probe that looks like the
 * records Observable and records each operator handed to `pipe` (Tributary's operators describe themselves, see
 * stageInfo.ts). Nothing is subscribed, so no record flows, no timer starts and nothing connects.
 */
import type { Observable } from 'rxjs';
import type { Envelope, RawValue } from '../envelope.js';
import type { Pipeline } from './definePipeline.js';
import { STAGE_PROBE, type StageInfo, stageInfoOf } from './stageInfo.js';

/** One stage of an inspected chain, in chain order; a route's chain targets follow it with `depth` + 1. */
export interface InspectedStage {
  readonly name: string;
  readonly kind: string;
  /** Topics the stage writes to (source-dependent ones resolved against the pipeline's source topics). */
  readonly outputTopics: readonly string[];
  /** The stage also writes to topics chosen per record. */
  readonly dynamicOutputs: boolean;
  /** 0 for the main chain; 1 inside a route branch, and so on. */
  readonly depth: number;
  /** For a stage inside a route branch: `<route stage>/<route name>`. */
  readonly branch?: string;
}

export interface PipelineInspection {
  readonly stages: readonly InspectedStage[];
  /** Every stage's output topics, in order of appearance, without repeats (the dead-letter topic not added). */
  readonly outputTopics: readonly string[];
  /** Some stage writes to topics chosen per record. */
  readonly dynamicOutputs: boolean;
  /** False when `build` threw or did more than chain `records.pipe(...)`: the stages may be incomplete. */
  readonly complete: boolean;
}

/** A delay topic's `.retry.<delay>` suffix: the record's original topic is the rest. */
const RETRY_SUFFIX = /\.retry\.\d+(?:ms|s|m|h)$/;

class Probe {
  constructor(
    private readonly stages: InspectedStage[],
    private readonly sourceTopics: readonly string[],
    private readonly depth: number,
    private readonly branch: string | undefined,
  ) {}

  pipe(...operators: unknown[]): Probe {
    let probe: Probe = this;
    for (const operator of operators) probe = probe.apply(operator);
    return probe;
  }

  private next(): Probe {
    return new Probe(this.stages, this.sourceTopics, this.depth, this.branch);
  }

  /** Applies one operator: a described one records itself; a composite may pipe on; anything else is opaque. */
  apply(operator: unknown): Probe {
    if (typeof operator !== 'function') throw new TypeError('not an operator function');
    if (stageInfoOf(operator) === undefined) {
      let out: unknown;
      try {
        out = (operator as (source: unknown) => unknown)(this);
      } catch {
        out = undefined;
      }
      if (out instanceof Probe) return out;
      this.add({ name: operator.name || 'anonymous', kind: 'rxjs' });
      return this.next();
    }
    const out: unknown = (operator as (source: unknown) => unknown)(this);
    return out instanceof Probe ? out : this.next();
  }

  [STAGE_PROBE](info: StageInfo): Probe {
    this.add(info);
    for (const [routeName, target] of Object.entries(info.branches ?? {})) {
      const inner = new Probe(this.stages, this.sourceTopics, this.depth + 1, `${info.name}/${routeName}`);
      try {
        inner.apply(target);
      } catch {
        // an unusual branch: its stages stay unlisted
      }
    }
    return this.next();
  }

  private add(info: StageInfo): void {
    const originals = [...new Set(this.sourceTopics.map((topic) => topic.replace(RETRY_SUFFIX, '')))];
    const templated = (info.outputTopicTemplates ?? []).flatMap((template) =>
      originals.map((topic) => template.replaceAll('{source}', topic)),
    );
    this.stages.push({
      name: info.name,
      kind: info.kind,
      outputTopics: [...new Set([...(info.outputTopics ?? []), ...templated])],
      dynamicOutputs: info.dynamicOutputs === true,
      depth: this.depth,
      ...(this.branch === undefined ? {} : { branch: this.branch }),
    });
  }
}

/** The stages and output topics of `pipeline`, read by applying its `build` to a probe (nothing runs). */
export function inspectPipeline(pipeline: Pick<Pipeline, 'build' | 'source'>): PipelineInspection {
  const stages: InspectedStage[] = [];
  const probe = new Probe(stages, pipeline.source.topics, 0, undefined);
  let complete: boolean;
  try {
    const out: unknown = pipeline.build(probe as unknown as Observable<Envelope<RawValue>>);
    complete = out instanceof Probe;
  } catch {
    complete = false;
  }
  const outputTopics = [...new Set(stages.flatMap((stage) => stage.outputTopics))];
  return { stages, outputTopics, dynamicOutputs: stages.some((stage) => stage.dynamicOutputs), complete };
}
