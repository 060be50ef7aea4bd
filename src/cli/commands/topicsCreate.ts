/**
 * `tributary topics create [files or folders...] [--partitions N] [--replication-factor N] [--extra topic,...]`:
 * creates the topics the pipelines read and dead-letter to, plus extra ones (output topics, which
 * `tributary describe` lists). Idempotent: existing topics are reported and left as they are.
 */
import { errorMessage } from '../../errors.js';
import type { AdminPort } from '../../kafka/ports.js';
import { isTopicName, TOPIC_NAME_RULE } from '../../names.js';
import { integerOption, listOption, parse, wantsHelp } from '../args.js';
import { commandBody, configOrReport, formatTable, pipelinesOrReport, withAdmin } from '../common.js';
import { type CliIo, EXIT_FAILURE, EXIT_OK, UsageError, writeLines } from '../io.js';

export const topicsCreateHelp = `Usage: tributary topics create [files or folders...] [options]

Creates the topics the pipelines use: their source topics and dead-letter topics, plus --extra ones
(output topics: tributary describe lists them). Topics that exist are left alone, so
running it twice is harmless. Connects with the same environment as tributary run (KAFKA_BROKERS, ...).

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
    const wanted = new Map<string, string[]>();
    const use = (topic: string, by: string) => wanted.set(topic, [...(wanted.get(topic) ?? []), by]);
    for (const { pipeline } of loaded.pipelines) {
      for (const topic of pipeline.source.topics) use(topic, `${pipeline.name} (source)`);
      use(pipeline.deadLetter.topic, `${pipeline.name} (dead letters)`);
    }
    for (const topic of args.extra) use(topic, '--extra');

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
        // Another process may have created some meanwhile (TOPIC_ALREADY_EXISTS): say what exists now.
        const existing = new Set(await admin.listTopics());
        const missing = [...wanted.keys()].filter((t) => !existing.has(t));
        if (missing.length > 0) {
          io.stderr(`tributary: creating ${missing.join(', ')} failed: ${errorMessage(error)}`);
          return EXIT_FAILURE;
        }
        created = new Set();
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
      io.stdout(`${created.size} created, ${rows.length - created.size} already existed`);
      return EXIT_OK;
    });
  });
}
