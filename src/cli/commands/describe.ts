/**
 * `tributary describe [files or folders...] [--mermaid | --json]`: what each pipeline reads, where its failures go
 * and how it is limited, read from the Pipeline values (no broker needed). Stages and output topics come from
 * inspectPipeline, which applies each pipeline's `build` to a probe (nothing is subscribed, nothing runs).
 */

import { inspectPipeline } from '../../runtime/inspectPipeline.js';
import { parse, wantsHelp } from '../args.js';
import { commandBody, pipelinesOrReport } from '../common.js';
import { type CliIo, EXIT_OK, UsageError, writeLines } from '../io.js';
import type { LoadedPipeline } from '../loadPipelines.js';

export const describeHelp = `Usage: tributary describe [files or folders...] [--mermaid | --json]

Describes each pipeline: source topics and consumer group, ordering, maxInFlight, commit interval,
drain timeout, dead-letter topic, its stages in order (name and operator) and its output topics.
Reads the pipeline modules only; needs no broker.

Stages are read by applying the pipeline's build function to a stand-in for the records (nothing
is subscribed, nothing runs). Tributary's operators describe themselves; other operators show as
"rxjs". Topics chosen per record (publish with a function) are marked as such, not listed. When
build does more than chain records.pipe(...), the list is marked incomplete.

Pipelines: as for tributary run (default folder pipelines/; compiled: dist/pipelines/).

Options:
  --mermaid    print a Mermaid flowchart (source topics → pipelines → output and dead-letter topics)
  --json       print the description as JSON
  -h, --help   show this help`;

const USAGE = 'tributary describe [files or folders...] [--mermaid | --json]';

export type DescribeFormat = 'text' | 'mermaid' | 'json';

export interface DescribeArgs {
  readonly paths: readonly string[];
  readonly format: DescribeFormat;
}

export function parseDescribeArgs(argv: readonly string[]): DescribeArgs {
  const { values, positionals } = parse(argv, { mermaid: { type: 'boolean' }, json: { type: 'boolean' } });
  if (values.mermaid && values.json) throw new UsageError('choose one of --mermaid and --json');
  return { paths: positionals, format: values.mermaid ? 'mermaid' : values.json ? 'json' : 'text' };
}

/** One stage in a description: chain order; a route's chain targets follow it with `depth` + 1 and `branch`. */
export interface StageDescription {
  readonly name: string;
  readonly kind: string;
  readonly depth: number;
  readonly branch?: string;
  readonly outputTopics: readonly string[];
  readonly dynamicOutputs: boolean;
}

/** The JSON shape of one pipeline. */
export interface PipelineDescription {
  readonly name: string;
  readonly file: string;
  readonly export: string;
  readonly sourceTopics: readonly string[];
  readonly groupId: string;
  readonly fromBeginning: boolean;
  readonly ordering: string;
  readonly maxInFlight: number;
  readonly commitIntervalMs: number;
  readonly drainTimeoutMs: number;
  readonly deadLetterTopic: string;
  readonly stages: readonly StageDescription[];
  /** False when build did more than chain records.pipe(...) (or threw): `stages` may miss some. */
  readonly stagesComplete: boolean;
  /** The stages' output topics, then the dead-letter topic (without repeats). */
  readonly outputTopics: readonly string[];
  /** Some stage writes to topics chosen per record (not in `outputTopics`). */
  readonly dynamicOutputs: boolean;
}

export function describePipeline({ pipeline, file, exportName }: LoadedPipeline): PipelineDescription {
  const inspection = inspectPipeline(pipeline);
  return {
    name: pipeline.name,
    file,
    export: exportName,
    sourceTopics: [...pipeline.source.topics],
    groupId: pipeline.source.groupId,
    fromBeginning: pipeline.source.fromBeginning,
    ordering: pipeline.ordering,
    maxInFlight: pipeline.maxInFlight,
    commitIntervalMs: pipeline.commitIntervalMs,
    drainTimeoutMs: pipeline.drainTimeoutMs,
    deadLetterTopic: pipeline.deadLetter.topic,
    stages: inspection.stages.map((stage) => ({ ...stage })),
    stagesComplete: inspection.complete,
    outputTopics: [...new Set([...inspection.outputTopics, pipeline.deadLetter.topic])],
    dynamicOutputs: inspection.dynamicOutputs,
  };
}

export function describeText(descriptions: readonly PipelineDescription[]): string[] {
  const lines: string[] = [];
  for (const d of descriptions) {
    if (lines.length > 0) lines.push('');
    lines.push(`pipeline ${d.name}   (${d.file}${d.export === 'default' ? '' : `, export ${d.export}`})`);
    const rows: [string, string][] = [
      ['source', d.sourceTopics.join(', ')],
      ['group', `${d.groupId} (a new group starts at the ${d.fromBeginning ? 'earliest' : 'latest'} offset)`],
      ['ordering', d.ordering],
      ['maxInFlight', String(d.maxInFlight)],
      ['commits', `every ${d.commitIntervalMs} ms; drain on stop up to ${d.drainTimeoutMs} ms`],
      ['dead letters', d.deadLetterTopic],
    ];
    for (const [label, value] of rows) lines.push(`  ${label.padEnd(12)}  ${value}`);
    const stageLines = d.stages.map(stageLine);
    if (stageLines.length === 0) stageLines.push(d.stagesComplete ? '(none: records pass through)' : '(none found)');
    if (!d.stagesComplete) stageLines.push('… incomplete: build does more than chain records.pipe(...)');
    stageLines.forEach((line, i) => {
      lines.push(`  ${(i === 0 ? 'stages' : '').padEnd(12)}  ${line}`);
    });
    const outputs = d.outputTopics.map((topic) => (topic === d.deadLetterTopic ? `${topic} (dead letters)` : topic));
    if (d.dynamicOutputs) outputs.push('topics chosen per record');
    lines.push(`  ${'outputs'.padEnd(12)}  ${outputs.join(', ')}`);
  }
  return lines;
}

function stageLine(stage: StageDescription): string {
  const where = stage.branch === undefined ? '' : `[${stage.branch.slice(stage.branch.lastIndexOf('/') + 1)}] `;
  const writes = [...stage.outputTopics, ...(stage.dynamicOutputs ? ['(per record)'] : [])];
  const to = writes.length > 0 ? ` → ${writes.join(', ')}` : '';
  return `${'  '.repeat(stage.depth)}${where}${stage.name} (${stage.kind})${to}`;
}

/**
 * A Mermaid flowchart: one node per topic (shared between pipelines), one per pipeline; source → pipeline → output
 * edges, dashed dead-letter edges.
 */
export function describeMermaid(descriptions: readonly PipelineDescription[]): string[] {
  const topicIds = new Map<string, string>();
  const topicNode = (topic: string): string => {
    let id = topicIds.get(topic);
    if (id === undefined) {
      id = `t${topicIds.size + 1}`;
      topicIds.set(topic, id);
    }
    return id;
  };
  const lines = ['flowchart LR'];
  const edges: string[] = [];
  descriptions.forEach((d, i) => {
    const id = `p${i + 1}`;
    lines.push(
      `  ${id}["${d.name}<br/>group ${d.groupId}<br/>${d.ordering} · maxInFlight ${d.maxInFlight}"]`,
      `  class ${id} pipeline`,
    );
    for (const topic of d.sourceTopics) edges.push(`  ${topicNode(topic)} --> ${id}`);
    for (const topic of d.outputTopics) {
      if (topic !== d.deadLetterTopic) edges.push(`  ${id} --> ${topicNode(topic)}`);
    }
    edges.push(`  ${id} -. dead letters .-> ${topicNode(d.deadLetterTopic)}`);
    if (d.dynamicOutputs) {
      lines.push(`  ${id}_dyn[/"topics chosen per record"/]`);
      edges.push(`  ${id} -.-> ${id}_dyn`);
    }
  });
  for (const [topic, id] of topicIds) lines.push(`  ${id}[("${topic}")]`);
  lines.push(...edges);
  lines.push('  classDef pipeline fill:#eef,stroke:#669');
  return lines;
}

export function describeCommand(argv: string[], io: CliIo): Promise<number> {
  return commandBody(io, 'describe', USAGE, async () => {
    if (wantsHelp(argv)) {
      writeLines(io.stdout, describeHelp);
      return EXIT_OK;
    }
    const args = parseDescribeArgs(argv);
    const loaded = await pipelinesOrReport(io, args.paths);
    const descriptions = loaded.pipelines.map(describePipeline);
    const lines =
      args.format === 'json'
        ? JSON.stringify(descriptions, null, 2).split('\n')
        : args.format === 'mermaid'
          ? describeMermaid(descriptions)
          : describeText(descriptions);
    for (const line of lines) io.stdout(line);
    return EXIT_OK;
  });
}
