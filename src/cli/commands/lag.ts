/**
 * `tributary lag [files or folders...] [--group G --topic T...] [--json]`: committed offset, log-end offset and lag
 * per group and partition, read from the broker (like `kafka-consumer-groups.sh --describe`). The same arithmetic as
 * the `tributary_consumer_lag_records` gauge, for every partition of the topic (not only the ones this process owns).
 */
import { errorMessage } from '../../errors.js';
import type { AdminPort } from '../../kafka/ports.js';
import { listOption, parse, wantsHelp } from '../args.js';
import { commandBody, configOrReport, formatTable, pipelinesOrReport, Reported, withAdmin } from '../common.js';
import { type CliIo, EXIT_FAILURE, EXIT_OK, UsageError, writeLines } from '../io.js';
import { describeKafkaError } from '../kafkaErrors.js';

export const lagHelp = `Usage: tributary lag [files or folders...] [--json]
       tributary lag --group GROUP --topic TOPIC[,TOPIC] [--json]

Prints, per consumer group, topic and partition: the group's committed offset (CURRENT-OFFSET, the
next offset it will read), the partition's end offset (LOG-END-OFFSET, the high watermark) and
LAG = LOG-END-OFFSET - CURRENT-OFFSET. A partition without a committed offset shows "-" and counts
its whole retained log as lag (marked *), which is where a group reading from the earliest offset
starts; the tributary_consumer_lag_records metric counts it the same way.

Without --group: the groups and source topics of the pipelines (default folder pipelines/;
compiled: dist/pipelines/). With --group and no --topic: the topics of the pipelines in that group.
Connects with the same environment as tributary run (KAFKA_BROKERS, ...).

Options:
  --group GROUP          one consumer group instead of the pipelines'
  --topic TOPIC[,TOPIC]  its topics; repeatable
  --json                 print JSON (offsets as strings: they are int64)
  -h, --help             show this help`;

const USAGE = 'tributary lag [files or folders...] [--group G --topic T] [--json]';

export interface LagArgs {
  readonly paths: readonly string[];
  readonly group: string | undefined;
  readonly topics: readonly string[];
  readonly json: boolean;
}

export function parseLagArgs(argv: readonly string[]): LagArgs {
  const { values, positionals } = parse(argv, {
    group: { type: 'string' },
    topic: { type: 'string', multiple: true },
    json: { type: 'boolean' },
  });
  const topics = listOption(values.topic);
  const group = values.group?.trim();
  if (group === '') throw new UsageError('--group needs a consumer group id');
  if (topics.length > 0 && group === undefined) throw new UsageError('--topic needs --group');
  if (group !== undefined && topics.length > 0 && positionals.length > 0) {
    throw new UsageError('give either pipeline paths or --group with --topic, not both');
  }
  return { paths: positionals, group, topics, json: values.json ?? false };
}

export interface PartitionLag {
  readonly group: string;
  readonly topic: string;
  readonly partition: number;
  /** Next offset the group reads; undefined when it has committed nothing on this partition. */
  readonly committed: bigint | undefined;
  readonly end: bigint;
  /** end − committed, or end − low (the whole retained log) without a commit; never negative. */
  readonly lag: bigint;
}

/** Lag of `group` on each partition of `topic`, sorted by partition. */
export async function readLag(
  admin: Pick<AdminPort, 'endOffsets' | 'committedOffsets'>,
  group: string,
  topic: string,
): Promise<PartitionLag[]> {
  const [ends, committed] = await Promise.all([admin.endOffsets(topic), admin.committedOffsets(group, topic)]);
  return [...ends]
    .sort((a, b) => a.partition - b.partition)
    .map(({ partition, low, high }) => {
      const offset = committed.get(partition);
      const position = offset ?? low;
      return { group, topic, partition, committed: offset, end: high, lag: high > position ? high - position : 0n };
    });
}

export function lagTable(rows: readonly PartitionLag[]): string[] {
  const lines = formatTable(
    ['GROUP', 'TOPIC', 'PARTITION', 'CURRENT-OFFSET', 'LOG-END-OFFSET', 'LAG'],
    rows.map((r) => [
      r.group,
      r.topic,
      String(r.partition),
      r.committed === undefined ? '-' : String(r.committed),
      String(r.end),
      r.committed === undefined ? `${r.lag}*` : String(r.lag),
    ]),
  );
  const groups = new Map<string, bigint>();
  for (const r of rows) groups.set(r.group, (groups.get(r.group) ?? 0n) + r.lag);
  lines.push('');
  for (const [group, total] of groups) lines.push(`total lag of ${group}: ${total}`);
  if (rows.some((r) => r.committed === undefined)) {
    lines.push('* no committed offset: the whole retained log counts as lag');
  }
  return lines;
}

export function lagCommand(argv: string[], io: CliIo): Promise<number> {
  return commandBody(io, 'lag', USAGE, async () => {
    if (wantsHelp(argv)) {
      writeLines(io.stdout, lagHelp);
      return EXIT_OK;
    }
    const args = parseLagArgs(argv);
    const config = configOrReport(io);

    /** group → topics, in first-seen order */
    const targets = new Map<string, string[]>();
    const add = (group: string, topic: string) => {
      const topics = targets.get(group) ?? [];
      if (!topics.includes(topic)) topics.push(topic);
      targets.set(group, topics);
    };
    if (args.group !== undefined && args.topics.length > 0) {
      for (const topic of args.topics) add(args.group, topic);
    } else {
      const loaded = await pipelinesOrReport(io, args.paths);
      for (const { pipeline } of loaded.pipelines) {
        if (args.group !== undefined && pipeline.source.groupId !== args.group) continue;
        for (const topic of pipeline.source.topics) add(pipeline.source.groupId, topic);
      }
      if (targets.size === 0) {
        throw new UsageError(`no pipeline uses group "${args.group}"; name its topics with --topic`);
      }
    }

    return withAdmin(io, config, async (admin) => {
      const rows: PartitionLag[] = [];
      for (const [group, topics] of targets) {
        for (const topic of topics) {
          try {
            rows.push(...(await readLag(admin, group, topic)));
          } catch (error) {
            if (describeKafkaError(error, config.kafka).kind === 'missing-topic') {
              io.stderr(`tributary: topic ${topic} does not exist (asked for group ${group})`);
              throw new Reported(EXIT_FAILURE);
            }
            throw new Error(`reading offsets of ${topic} for group ${group} failed: ${errorMessage(error)}`, {
              cause: error,
            });
          }
        }
      }
      if (args.json) {
        const json = rows.map((r) => ({
          group: r.group,
          topic: r.topic,
          partition: r.partition,
          committedOffset: r.committed === undefined ? null : String(r.committed),
          endOffset: String(r.end),
          lag: String(r.lag),
        }));
        writeLines(io.stdout, JSON.stringify(json, null, 2));
      } else {
        for (const line of lagTable(rows)) io.stdout(line);
      }
      return EXIT_OK;
    });
  });
}
