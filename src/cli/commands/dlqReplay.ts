/**
 * `tributary dlq replay --from <dlq-topic> [--to <topic> | --original] [--stage S] [--error-code C] [--limit N]
 * [--dry-run] [--group G]`: re-publishes dead letters to the topic they came from (`kafka_dlt-original-topic`) or to
 * another one, without the dead-letter headers, and commits its progress in its own consumer group so an interrupted
 * replay resumes where it stopped. It replays what the dead-letter topic held when it started (its end offsets then),
 * or `--limit` records; `--stage` / `--error-code` select records by the stage that failed them and its error code.
 */
import type { TributaryConfig } from '../../config/loadConfig.js';
import { errorMessage } from '../../errors.js';
import { createKafkaClient } from '../../kafka/createKafkaClient.js';
import { readIntegerHeader, readTextHeader, withoutHeaders } from '../../kafka/headers.js';
import type {
  ConsumedRecord,
  HeaderValue,
  KafkaClientPort,
  OutgoingRecord,
  PartitionBatch,
  RecordHeaders,
  TopicPartitionOffset,
} from '../../kafka/ports.js';
import { isTopicName } from '../../names.js';
import { DEAD_LETTER_HEADERS } from '../../runtime/deadLetterRecord.js';
import { integerOption, listOption, parse, wantsHelp } from '../args.js';
import { commandBody, configOrReport, Reported } from '../common.js';
import { type CliIo, EXIT_FAILURE, EXIT_OK, UsageError, writeLines } from '../io.js';
import { describeKafkaError } from '../kafkaErrors.js';

export const dlqReplayHelp = `Usage: tributary dlq replay --from DLQ_TOPIC [--to TOPIC | --original] [options]

Re-publishes the records of a dead-letter topic: value and key as they are, the user's own headers
(correlation-id, event types, ...) kept, the dead-letter and retry headers (kafka_dlt-*, kafka_original-*,
tributary-*) removed. Each goes to the topic it came from (its kafka_dlt-original-topic header; the
default, --original) or to --to TOPIC. Records without an original topic, and records whose value was
left out of the dead-letter topic (tributary-value-omitted), are skipped and counted.

--stage and --error-code replay only the records a given stage failed (their tributary-stage header)
or that failed with a given error code (tributary-error-code, e.g. TRIBUTARY_ERR_PROCESSING): the
transient failures, say, and not the poison records that would only be dead-lettered again. Records
they leave out are left for another replay: each filter keeps its own progress (its own default group).

It replays what the dead-letter topic holds when it starts (its end offsets then), or --limit records,
and commits its progress in its own consumer group (default tributary-dlq-replay-<DLQ_TOPIC>): run it
again and it resumes after the last record it replayed. Delivery is at-least-once: a record whose batch
was sent but not yet committed when the command stopped is sent again. A replayed record is a new record
at the end of its topic: it comes after the records of its key that arrived since it failed. Fix the
cause first: a replayed record that fails again is dead-lettered again. Connects with the same
environment as tributary run (KAFKA_BROKERS, ...).

Options:
  --from TOPIC         the dead-letter topic to read (required)
  --original           send each record to its kafka_dlt-original-topic (default)
  --to TOPIC           send every record to TOPIC instead
  --stage NAME[,NAME]  only records dead-lettered by these stages; repeatable
  --error-code CODE[,CODE]
                       only records with these error codes; repeatable
  --limit N            replay at most N records (skipped ones count, ones the filters leave out do
                       not), then stop
  --dry-run            print what would be replayed; publish and commit nothing
  --group GROUP        consumer group that keeps the progress (default tributary-dlq-replay-<DLQ_TOPIC>,
                       with the filters appended: -stage-<NAMES>, -error-code-<CODES>)
  -h, --help           show this help

Exit codes: 0 done, 1 failed (Kafka unreachable, a destination topic missing), 2 bad arguments or
configuration.`;

const USAGE =
  'tributary dlq replay --from DLQ_TOPIC [--to TOPIC | --original] [--stage S] [--error-code C] [--limit N] ' +
  '[--dry-run] [--group G]';

/** Headers the replay removes: the dead-letter provenance and the retry bookkeeping, never the user's own. */
const STRIPPED_PREFIXES = ['kafka_dlt-', 'kafka_original-', 'tributary-'] as const;
/** Most bytes of values in one produce request (the broker's default record-batch limit is ~1 MB). */
const MAX_REQUEST_BYTES = 900_000;

export interface DlqReplayArgs {
  readonly from: string;
  /** undefined: each record's original topic. */
  readonly to: string | undefined;
  /** Only records whose `tributary-stage` is one of these; empty: every stage. */
  readonly stages: readonly string[];
  /** Only records whose `tributary-error-code` is one of these; empty: every code. */
  readonly errorCodes: readonly string[];
  readonly limit: number | undefined;
  readonly dryRun: boolean;
  readonly group: string;
}

/** The records a replay selects: by the stage that dead-lettered them and its error code (empty: any). */
export interface ReplayFilter {
  readonly stages?: readonly string[];
  readonly errorCodes?: readonly string[];
}

/**
 * The default progress group of a replay from `from`: each filter has its own, so records one filter leaves out are
 * still ahead of a replay with another filter or none.
 */
export function defaultReplayGroup(from: string, filter: ReplayFilter = {}): string {
  const stages = [...(filter.stages ?? [])].sort();
  const codes = [...(filter.errorCodes ?? [])].sort();
  return (
    `tributary-dlq-replay-${from}` +
    (stages.length > 0 ? `-stage-${stages.join(',')}` : '') +
    (codes.length > 0 ? `-error-code-${codes.join(',')}` : '')
  );
}

/** Whether a dead letter is one the filter selects. */
export function selectedBy(filter: ReplayFilter, record: Pick<ConsumedRecord, 'headers'>): boolean {
  const { stages = [], errorCodes = [] } = filter;
  if (stages.length > 0 && !stages.includes(readTextHeader(record.headers[DEAD_LETTER_HEADERS.stage]) ?? ''))
    return false;
  const code = readTextHeader(record.headers[DEAD_LETTER_HEADERS.errorCode]) ?? '';
  return errorCodes.length === 0 || errorCodes.includes(code);
}

export function parseDlqReplayArgs(argv: readonly string[]): DlqReplayArgs {
  const { values, positionals } = parse(argv, {
    from: { type: 'string' },
    to: { type: 'string' },
    original: { type: 'boolean' },
    stage: { type: 'string', multiple: true },
    'error-code': { type: 'string', multiple: true },
    limit: { type: 'string' },
    'dry-run': { type: 'boolean' },
    group: { type: 'string' },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const from = values.from?.trim();
  if (from === undefined || from === '') throw new UsageError('--from DLQ_TOPIC is required');
  if (!isTopicName(from)) throw new UsageError(`--from "${from}" is not a Kafka topic name`);
  const to = values.to?.trim();
  if (to !== undefined) {
    if (values.original) throw new UsageError('give either --to TOPIC or --original, not both');
    if (!isTopicName(to)) throw new UsageError(`--to "${to}" is not a Kafka topic name`);
    if (to === from)
      throw new UsageError('--to must differ from --from (that would replay into the dead-letter topic)');
  }
  const group = values.group?.trim();
  if (group === '') throw new UsageError('--group needs a consumer group id');
  const stages = [...new Set(listOption(values.stage))];
  if (values.stage !== undefined && stages.length === 0) throw new UsageError('--stage needs a stage name');
  const errorCodes = [...new Set(listOption(values['error-code']))];
  if (values['error-code'] !== undefined && errorCodes.length === 0) {
    throw new UsageError('--error-code needs an error code (e.g. TRIBUTARY_ERR_PROCESSING)');
  }
  return {
    from,
    to,
    stages,
    errorCodes,
    limit: integerOption('limit', values.limit, 1, Number.MAX_SAFE_INTEGER),
    dryRun: values['dry-run'] ?? false,
    group: group ?? defaultReplayGroup(from, { stages, errorCodes }),
  };
}

export type SkipReason = 'no original topic' | 'value omitted' | 'original topic is the dead-letter topic';

export interface DlqReplaySummary {
  /** Records re-published (or, in a dry run, that would be). */
  readonly replayed: number;
  readonly skipped: number;
  /** Records read past that `--stage` / `--error-code` left out. */
  readonly notSelected: number;
  readonly skippedBy: Readonly<Partial<Record<SkipReason, number>>>;
  /** Replayed records per destination topic. */
  readonly byDestination: Readonly<Record<string, number>>;
  /** The progress committed (next offset to read), per partition; empty in a dry run. */
  readonly committed: readonly TopicPartitionOffset[];
  readonly dryRun: boolean;
}

/** A failure the command explains in one line (exit 1). */
export class ReplayError extends Error {
  override name = 'ReplayError';
}

/** The record without the dead-letter and retry headers. */
export function stripDeadLetterHeaders(headers: RecordHeaders): Record<string, HeaderValue | readonly HeaderValue[]> {
  return withoutHeaders(headers, (name) => STRIPPED_PREFIXES.some((prefix) => name.startsWith(prefix)));
}

/** Where one dead letter goes, or why it is skipped. */
export function replayDestination(
  record: Pick<ConsumedRecord, 'headers'>,
  from: string,
  to: string | undefined,
): { topic: string } | { skip: SkipReason } {
  if (record.headers[DEAD_LETTER_HEADERS.valueOmitted] !== undefined) return { skip: 'value omitted' };
  if (to !== undefined) return { topic: to };
  const original = readTextHeader(record.headers[DEAD_LETTER_HEADERS.originalTopic])?.trim();
  if (original === undefined || original === '' || !isTopicName(original)) return { skip: 'no original topic' };
  if (original === from) return { skip: 'original topic is the dead-letter topic' };
  return { topic: original };
}

export interface ReplayOptions extends Omit<DlqReplayArgs, 'group' | 'stages' | 'errorCodes'>, ReplayFilter {
  readonly group: string;
  /** One line per record in a dry run; progress notes otherwise. */
  readonly log: (line: string) => void;
}

function describeRecord(from: string, partition: number, record: ConsumedRecord): string {
  const code = readTextHeader(record.headers[DEAD_LETTER_HEADERS.errorCode]);
  const message = readTextHeader(record.headers[DEAD_LETTER_HEADERS.exceptionMessage]);
  const origin = readTextHeader(record.headers[DEAD_LETTER_HEADERS.originalTopic]);
  const originPartition = readIntegerHeader(record.headers[DEAD_LETTER_HEADERS.originalPartition]);
  const originOffset = readIntegerHeader(record.headers[DEAD_LETTER_HEADERS.originalOffset]);
  const where = origin === undefined ? '' : ` from ${origin}/${originPartition ?? '?'}@${originOffset ?? '?'}`;
  const key = record.key === null ? 'null' : JSON.stringify(record.key.toString('utf8').slice(0, 60));
  const why = code === undefined ? '' : `; ${code}${message === undefined ? '' : `: ${message.slice(0, 120)}`}`;
  return `${from}/${partition}@${record.offset} (key ${key}${where}${why})`;
}

/** Splits the messages so one produce request stays under the broker's record-batch limit. */
function chunks(messages: readonly OutgoingRecord[]): OutgoingRecord[][] {
  const out: OutgoingRecord[][] = [];
  let current: OutgoingRecord[] = [];
  let bytes = 0;
  for (const message of messages) {
    const size = (message.value?.length ?? 0) + (message.key?.length ?? 0);
    if (current.length > 0 && bytes + size > MAX_REQUEST_BYTES) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(message);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/**
 * Replays the dead letters of `options.from` as of now (its end offsets when called) through `client`: reads them
 * in consumer group `options.group`, publishes each batch, then commits the batch (not in a dry run).
 */
export async function replayDeadLetters(client: KafkaClientPort, options: ReplayOptions): Promise<DlqReplaySummary> {
  const { from, to, limit, dryRun, group, log } = options;
  const filtered = (options.stages?.length ?? 0) > 0 || (options.errorCodes?.length ?? 0) > 0;
  const admin = client.admin();
  await admin.connect();
  let ends: Map<number, bigint>;
  let known: Set<string>;
  let starts: Map<number, bigint>;
  try {
    known = new Set(await admin.listTopics());
    if (!known.has(from)) throw new ReplayError(`dead-letter topic "${from}" does not exist`);
    if (to !== undefined && !known.has(to)) throw new ReplayError(`destination topic "${to}" does not exist`);
    const offsets = await admin.endOffsets(from);
    const committed = await admin.committedOffsets(group, from);
    ends = new Map(offsets.map((o) => [o.partition, o.high]));
    starts = new Map(offsets.map((o) => [o.partition, committed.get(o.partition) ?? o.low]));
  } finally {
    await admin.disconnect().catch(() => {});
  }

  let replayed = 0;
  let seen = 0;
  let notSelected = 0;
  const skippedBy: Partial<Record<SkipReason, number>> = {};
  const byDestination: Record<string, number> = {};
  const committed = new Map<number, bigint>();
  const pending = new Set([...ends].filter(([p, end]) => (starts.get(p) ?? 0n) < end).map(([p]) => p));
  const summary = (): DlqReplaySummary => ({
    replayed,
    skipped: Object.values(skippedBy).reduce((n, c) => n + (c ?? 0), 0),
    notSelected,
    skippedBy,
    byDestination,
    committed: [...committed]
      .sort(([a], [b]) => a - b)
      .map(([partition, offset]) => ({ topic: from, partition, offset })),
    dryRun,
  });
  if (pending.size === 0) return summary();

  const consumer = client.consumer({ groupId: group });
  const producer = dryRun ? undefined : client.producer();
  let finished = false;
  let settle: { resolve: () => void; reject: (error: unknown) => void } | undefined;
  const done = new Promise<void>((resolve, reject) => {
    settle = { resolve, reject };
  });
  const finish = (error?: unknown) => {
    if (finished) return;
    finished = true;
    if (error === undefined) settle?.resolve();
    else settle?.reject(error);
  };

  const handle = async (batch: PartitionBatch, advanceTo: (next: bigint) => void): Promise<void> => {
    if (finished || batch.topic !== from || !pending.has(batch.partition)) return;
    const end = ends.get(batch.partition) ?? 0n;
    const current = starts.get(batch.partition) ?? 0n;
    const messages: OutgoingRecord[] = [];
    let next: bigint | undefined;
    let stoppedBy: 'end' | 'limit' | undefined;
    for (const record of batch.records) {
      if (record.offset < current) continue; // already replayed (a record batch can start before the position)
      if (record.offset >= end) {
        stoppedBy = 'end';
        break;
      }
      if (limit !== undefined && seen >= limit) {
        stoppedBy = 'limit';
        break;
      }
      next = record.offset + 1n;
      if (filtered && !selectedBy(options, record)) {
        notSelected++;
        continue;
      }
      seen++;
      const destination = replayDestination(record, from, to);
      if ('skip' in destination) {
        skippedBy[destination.skip] = (skippedBy[destination.skip] ?? 0) + 1;
        if (dryRun) log(`would skip ${describeRecord(from, batch.partition, record)}: ${destination.skip}`);
        continue;
      }
      if (!known.has(destination.topic)) {
        throw new ReplayError(
          `destination topic "${destination.topic}" of ${from}/${batch.partition}@${record.offset} does not exist ` +
            '(create it, or replay with --to TOPIC)',
        );
      }
      replayed++;
      byDestination[destination.topic] = (byDestination[destination.topic] ?? 0) + 1;
      if (dryRun) log(`would replay ${describeRecord(from, batch.partition, record)} → ${destination.topic}`);
      messages.push({
        topic: destination.topic,
        key: record.key,
        value: record.value,
        headers: stripDeadLetterHeaders(record.headers),
      });
    }
    // The next offset to read. Past the batch's last record when transactional control records or compaction gaps
    // follow it (kafkajs' batch end), never past the end offsets of the start.
    let position: bigint | undefined;
    if (stoppedBy === 'end') position = end;
    else if (stoppedBy === 'limit') position = next;
    else {
      const batchEnd = batch.endOffset < end ? batch.endOffset : end;
      position = next !== undefined && next > batchEnd ? next : batchEnd;
    }
    if (position !== undefined && position > current) {
      if (producer) {
        for (const chunk of chunks(messages)) await producer.send(chunk);
        await consumer.commit([{ topic: from, partition: batch.partition, offset: position }]);
        committed.set(batch.partition, position);
      }
      starts.set(batch.partition, position);
      advanceTo(position);
    }
    if ((starts.get(batch.partition) ?? 0n) >= end) pending.delete(batch.partition);
    if (pending.size === 0 || (limit !== undefined && seen >= limit)) finish();
  };

  const removeFatal = consumer.onFatal((error) => finish(error));
  try {
    await producer?.connect();
    await consumer.connect();
    await consumer.subscribe([from], true);
    await consumer.run(async (batch, control) => {
      try {
        await handle(batch, control.advanceTo);
      } catch (error) {
        finish(error);
      }
    });
    await done;
  } finally {
    removeFatal();
    await consumer.disconnect().catch(() => {});
    await producer?.disconnect().catch(() => {});
  }
  return summary();
}

function report(io: Pick<CliIo, 'stdout'>, args: DlqReplayArgs, summary: DlqReplaySummary): void {
  const verb = summary.dryRun ? 'would replay' : 'replayed';
  io.stdout(`${verb} ${summary.replayed}, skipped ${summary.skipped}`);
  for (const [topic, count] of Object.entries(summary.byDestination).sort(([a], [b]) => a.localeCompare(b))) {
    io.stdout(`  → ${topic}: ${count}`);
  }
  for (const [reason, count] of Object.entries(summary.skippedBy)) io.stdout(`  skipped (${reason}): ${count}`);
  if (args.stages.length > 0 || args.errorCodes.length > 0) {
    io.stdout(`  not selected (other stages or error codes, left in ${args.from}): ${summary.notSelected}`);
  }
  if (summary.dryRun) {
    io.stdout('dry run: nothing was published or committed');
  } else if (summary.committed.length > 0) {
    const positions = summary.committed.map((c) => `${c.partition}@${c.offset}`).join(', ');
    io.stdout(`committed progress of group ${args.group} on ${args.from}: ${positions}`);
  } else {
    io.stdout(`nothing to replay: group ${args.group} is at the end of ${args.from}`);
  }
}

/**
 * The `tributary dlq replay` command: `argv` holds the arguments after `dlq replay`. Returns the exit code: 0 done,
 * 1 failed (Kafka, a missing topic), 2 bad arguments or configuration.
 */
export async function dlqReplayCommand(
  argv: string[],
  io: { stdout: (line: string) => void; stderr: (line: string) => void; env: NodeJS.ProcessEnv },
): Promise<number> {
  if (wantsHelp(argv)) {
    writeLines(io.stdout, dlqReplayHelp);
    return EXIT_OK;
  }
  return commandBody(io, 'dlq replay', USAGE, async () => {
    const args = parseDlqReplayArgs(argv);
    const config: TributaryConfig = configOrReport(io);
    const destination = args.to === undefined ? 'original topics' : args.to;
    const only = [
      ...(args.stages.length > 0 ? [`stage ${args.stages.join(' or ')}`] : []),
      ...(args.errorCodes.length > 0 ? [`error code ${args.errorCodes.join(' or ')}`] : []),
    ];
    io.stdout(
      `${args.dryRun ? 'dry run: ' : ''}replaying ${args.from} → ${destination}` +
        `${only.length === 0 ? '' : ` (only ${only.join(', ')})`}` +
        `${args.limit === undefined ? '' : ` (at most ${args.limit})`}, progress in group ${args.group}`,
    );
    let summary: DlqReplaySummary;
    try {
      summary = await replayDeadLetters(await createKafkaClient(config.kafka), { ...args, log: io.stdout });
    } catch (error) {
      const message = error instanceof ReplayError ? error.message : describeKafkaError(error, config.kafka).message;
      io.stderr(`tributary dlq replay: ${message || errorMessage(error)}`);
      throw new Reported(EXIT_FAILURE);
    }
    report(io, args, summary);
    return EXIT_OK;
  });
}
