/**
 * `tributary describe [files or folders...] [--mermaid | --json]`: what each pipeline reads, where its failures go
 * and how it is limited, read from the Pipeline values (no broker needed). The operator chain is a function
 * (`build`), so its stages and output topics cannot be listed yet; the output says so instead of guessing.
 */
import { parse, wantsHelp } from '../args.js';
import { commandBody, pipelinesOrReport } from '../common.js';
import { type CliIo, EXIT_OK, UsageError, writeLines } from '../io.js';
import type { LoadedPipeline } from '../loadPipelines.js';

export const describeHelp = `Usage: tributary describe [files or folders...] [--mermaid | --json]

Describes each pipeline: source topics and consumer group, ordering, maxInFlight, commit interval,
drain timeout and dead-letter topic. Reads the pipeline modules only; needs no broker.

Stages and output topics are not listed yet: a pipeline's operator chain is a function (build)
that the engine does not introspect. Stage names show up at run time in metrics (stage label),
logs and the tributary-stage dead-letter header.

Pipelines: as for tributary run (default folder pipelines/; compiled: dist/pipelines/).

Options:
  --mermaid    print a Mermaid flowchart (topics → pipelines → dead-letter topics)
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

/** The JSON shape of one pipeline; `stages` and `outputTopics` are null until the engine can introspect chains. */
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
  readonly stages: null;
  readonly outputTopics: null;
}

export function describePipeline({ pipeline, file, exportName }: LoadedPipeline): PipelineDescription {
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
    stages: null,
    outputTopics: null,
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
      ['stages', 'not introspectable yet (the chain is the build function)'],
      ['outputs', 'not introspectable yet'],
    ];
    for (const [label, value] of rows) lines.push(`  ${label.padEnd(12)}  ${value}`);
  }
  return lines;
}

/** A Mermaid flowchart: one node per topic (shared between pipelines), one per pipeline, dashed dead-letter edges. */
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
    edges.push(`  ${id} -. dead letters .-> ${topicNode(d.deadLetterTopic)}`);
  });
  for (const [topic, id] of topicIds) lines.push(`  ${id}[("${topic}")]`);
  lines.push(...edges);
  lines.push('  classDef pipeline fill:#eef,stroke:#669');
  lines.push('  %% output topics are not shown: the engine does not introspect operator chains yet');
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
