/**
 * `tributary topics create [files or folders...] [--partitions N] [--replication-factor N] [--extra topic,...]`:
 * creates every topic the pipelines use that is known before they run — source topics, the topics their stages
 * write to (publish, route, retryViaTopics delay topics, branchToDeadLetter), dead-letter topics — plus extra ones. Stages
 * are found as `tributary describe` finds them; topics chosen per record cannot be, and are named in a note.
 * Idempotent: existing topics are reported and left as they are.
 */
import { errorMessage } from '../../errors.js';
import type { AdminPort } from '../../kafka/ports.js';
import { isTopicName, TOPIC_NAME_RULE } from '../../names.js';
import { inspectPipeline } from '../../runtime/inspectPipeline.js';
import { integerOption, listOption, parse, wantsHelp } from '../args.js';
import { commandBody, configOrReport, formatTable, pipelinesOrReport, withAdmin } from '../common.js';
import { type CliIo, EXIT_FAILURE, EXIT_OK, UsageError, writeLines } from '../io.js';
import type { LoadedPipeline } from '../loadPipelines.js';

export const topicsCreateHelp = `Usage: tributary topics create [files or folders...] [options]

Creates the topics the pipelines use: their source topics, the topics their stages write to
(publish, route, retryViaTopics delay topics, branchToDeadLetter) and their dead-letter topics, plus --extra
ones. Stages are found as tributary describe finds them; topics a stage chooses per record (publish
with a function) cannot be known, and are left to --extra (a note names the stage). Topics that exist
are left alone, so running it twice is harmless. Waits until every new partition has a leader that
serves it. Connects with the same environment as tributary run (KAFKA_BROKERS, ...).

Pipelines: as for tributary run (default folder pipelines/; compiled: dist/pipelines/). With --extra
and no path, a missing default folder is not an error.

Options:
  --partitions N           partitions of each new topic (default: the broker's num.partitions)
  --replication-factor N   replicas of each new topic (default: the broker's default.replication.factor)
  --extra TOPIC[,TOPIC]    more topics to create; repeatable
  -h, --help               show this help`;

const USAGE = 'tributary topics create [files or folders...] [--partitions N] [--replication-factor N] [--extra T]';

export interface TopicsCreateArgs {
  readonly paths: readonly string[];
  /** -1: the broker's default. */
  readonly partitions: number;
  /** -1: the broker's default. */
  readonly replicationFactor: number;
  readonly extra: readonly string[];
}

export function parseTopicsCreateArgs(argv: readonly string[]): TopicsCreateArgs {
  const { values, positionals } = parse(argv, {
    partitions: { type: 'string' },
    'replication-factor': { type: 'string' },
    extra: { type: 'string', multiple: true },
  });
  const extra = listOption(values.extra);
  for (const topic of extra) {
    if (!isTopicName(topic)) {
      throw new UsageError(`--extra "${topic}" is not a Kafka topic name (${TOPIC_NAME_RULE})`);
    }
  }
  return {
    paths: positionals,
    partitions: integerOption('partitions', values.partitions, 1, 100_000) ?? -1,
    replicationFactor: integerOption('replication-factor', values['replication-factor'], 1, 32_767) ?? -1,
    extra,
  };
}

interface Row {
  readonly topic: string;
  readonly state: 'created' | 'exists';
  readonly partitions: number;
  readonly usedBy: string;
}

/** What a stage's output topics are to the pipeline, by the operator that made the stage. */
function roleOf(kind: string): string {
  if (kind === 'retryViaTopics') return 'retries';
  if (kind === 'branchToDeadLetter') return 'dead letters';
  return 'output';
}

/** The topics the pipelines use that are known before they run, each with what uses it; notes on the rest. */
export function pipelineTopics(pipelines: readonly LoadedPipeline[]): {
  topics: Map<string, string[]>;
  notes: string[];
} {
  const topics = new Map<string, string[]>();
  const notes: string[] = [];
  const use = (topic: string, by: string) => {
    const users = topics.get(topic) ?? [];
    if (!users.includes(by)) users.push(by);
    topics.set(topic, users);
  };
  for (const { pipeline } of pipelines) {
    for (const topic of pipeline.source.topics) use(topic, `${pipeline.name} (source)`);
    const inspection = inspectPipeline(pipeline);
    for (const stage of inspection.stages) {
      for (const topic of stage.outputTopics) use(topic, `${pipeline.name} (${roleOf(stage.kind)})`);
    }
    use(pipeline.deadLetter.topic, `${pipeline.name} (dead letters)`);
    const perRecord = inspection.stages.filter((stage) => stage.dynamicOutputs).map((stage) => stage.name);
    if (perRecord.length > 0) {
      notes.push(
        `note: ${pipeline.name} also writes to topics chosen per record (stage ${perRecord.join(', ')}): ` +
          'not created; name them with --extra',
      );
    }
    if (!inspection.complete) {
      notes.push(
        `note: ${pipeline.name}'s build does more than chain records.pipe(...), so some of its output topics may ` +
          'not be known (tributary describe shows what was found); name them with --extra',
      );
    }
  }
  return { topics, notes };
}

async function partitionCount(admin: AdminPort, topic: string): Promise<number> {
  return (await admin.endOffsets(topic)).length;
}

export function topicsCreateCommand(argv: string[], io: CliIo): Promise<number> {
  return commandBody(io, 'topics create', USAGE, async () => {
    if (wantsHelp(argv)) {
      writeLines(io.stdout, topicsCreateHelp);
      return EXIT_OK;
    }
    const args = parseTopicsCreateArgs(argv);
    const config = configOrReport(io);
    const loaded = await pipelinesOrReport(io, args.paths, { allowEmpty: args.extra.length > 0 });

    // topic → what uses it, in first-seen order
    const { topics: wanted, notes } = pipelineTopics(loaded.pipelines);
    for (const topic of args.extra) wanted.set(topic, [...(wanted.get(topic) ?? []), '--extra']);

    return withAdmin(io, config, async (admin) => {
      let created: Set<string>;
      try {
        created = new Set(
          await admin.createTopics(
            [...wanted.keys()].map((topic) => ({
              topic,
              partitions: args.partitions,
              replicationFactor: args.replicationFactor,
            })),
          ),
        );
      } catch (error) {
        // Say which topics exist now, and fail: a topic without a leader, or a refused one, is not ready for use.
        const existing = new Set(await admin.listTopics().catch(() => []));
        const missing = [...wanted.keys()].filter((t) => !existing.has(t));
        const what = missing.length > 0 ? `creating ${missing.join(', ')}` : 'waiting for the new topics';
        io.stderr(`tributary: ${what} failed: ${errorMessage(error)}`);
        return EXIT_FAILURE;
      }
      const rows: Row[] = [];
      for (const [topic, usedBy] of wanted) {
        rows.push({
          topic,
          state: created.has(topic) ? 'created' : 'exists',
          partitions: await partitionCount(admin, topic),
          usedBy: usedBy.join(', '),
        });
      }
      for (const line of formatTable(
        ['STATE', 'TOPIC', 'PARTITIONS', 'USED BY'],
        rows.map((r) => [r.state, r.topic, String(r.partitions), r.usedBy]),
      )) {
        io.stdout(line);
      }
      for (const note of notes) io.stdout(note);
      io.stdout(`${created.size} created, ${rows.length - created.size} already existed`);
      return EXIT_OK;
    });
  });
}
