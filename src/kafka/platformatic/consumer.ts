/**
 * The ConsumerPort on @platformatic/kafka, with its own fetch loop instead of the client's MessagesStream.
 *
 * Why not the stream: it hands out one message at a time, pauses only as a whole, cannot be moved back (seeking means
 * a new stream), hides the high watermark and the batches that hold only transaction markers, and queues offsets
 * to auto-commit when they are fetched. Emulating the port on it means buffering: a paused partition's messages kept
 * (or dropped and fetched again after a seek), the whole stream paused when the buffer is full — then every other
 * partition starves behind the paused one. So the adapter uses the client's public pieces under the stream directly:
 * - group membership: `Consumer.joinGroup` (the client heartbeats, rejoins and reassigns by itself; its
 *   `consumer:group:rebalance` and `consumer:group:join` events become onRebalancing and onAssigned);
 * - fetching: `Consumer.fetch` (one Fetch request to one broker, incremental fetch sessions included) on a second,
 *   groupless Consumer, so a long poll never delays a heartbeat or a commit on the coordinator's connection;
 * - commits: `Consumer.commit` on a third Consumer that never joins and never retries, sent with the member's id and
 *   generation. The member's own commit joins the group again when the broker refuses it for a rebalance, and
 *   retries: a leader that joins a stable group starts another rebalance, which refuses the retried commit in turn —
 *   a rebalance storm (8 generations in 7 s with 2 workers on the benchmark's workload). Here a commit refused for
 *   a rebalance waits until the member has joined again by itself (its heartbeat noticed), is sent once more under
 *   the new generation, and otherwise fails: the engine sends its offsets again next round. One exception: the
 *   commit made the moment a rebalance starts goes on the member's own connection, ahead of its JoinGroup, while the
 *   group still accepts it (on another connection it could arrive after the join, and the partition's next owner
 *   would start before it);
 * - positions: committed offsets (`listCommittedOffsets`), falling back to the earliest or latest offset
 *   (`listOffsets`) — the COMMITTED-then-EARLIEST rule, not EARLIEST alone, which would ignore the commits.
 *
 * The loop, one per broker: fetch the partitions this member owns that lead there, are not paused and have a known
 * position; hand each partition's records to the handler as one batch (up to partitionsConsumedConcurrently at
 * once); the next fetch to that broker waits until every handler settled. A position moves only by advanceTo (or
 * past a batch of markers only), so a batch not advanced is fetched and handed over again, and one advanced into its
 * middle starts there next time. Memory stays bounded by one fetch response per broker (maxBytes, 1 MiB unless set):
 * nothing is kept between fetches. A fetch waits at the broker for data up to maxWaitTimeMs, except while one of the
 * broker's partitions is left out of it (paused, or its position not known yet): then up to half the time since the
 * latest such pause, between 20 ms and maxWaitTimeMs, so that a partition resumed after a moment of backpressure is
 * fetched again within milliseconds rather than after the idle partitions' wait (see #fetchWait).
 * Pause is per partition and exact: a paused partition is left out of the next request, and a
 * response that was already on its way when it was paused is not handed over (its position does not move, so it is
 * fetched again after resume). Fairness: a paused or slow partition holds only its own broker's next fetch while its
 * handler runs, as with kafkajs; the other brokers' loops go on. Within one broker, a response filled up to maxBytes
 * by some partitions leaves the others for later, but the client's incremental fetch session (KIP-227) has the broker
 * put the partitions that returned data at the end of the next response, so each gets its turn.
 */
import {
  type ClusterMetadata,
  Consumer,
  type ConsumerGroupJoinPayload,
  FetchIsolationLevels,
  IS_CONTROL,
  ListOffsetTimestamps,
} from '@platformatic/kafka';
import { backoffDelay } from '../../backoff.js';
import { ConsumerEvents } from '../consumerEvents.js';
import { fetchLimits } from '../fetchLimits.js';
import type { KafkaConnectionConfig } from '../kafkajsClient.js';
import type {
  BatchControl,
  BatchHandler,
  ConsumedRecord,
  ConsumerOptions,
  ConsumerPort,
  PartitionBatch,
  RecordHeaders,
  TopicPartition,
  TopicPartitionOffset,
} from '../ports.js';
import { baseOptions, connectOnce, isConnectionLost, PlatformaticKafkaError, protocolErrorOf } from './connection.js';
import { roundRobinAssigner } from './roundRobinAssigner.js';

/** One Fetch response (the type is not exported by name). */
type FetchResponse = Awaited<ReturnType<Consumer['fetch']>>;

const key = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

/** The shortest fetch wait while a partition is left out of the fetch (see #fetchWait). */
const MIN_FETCH_WAIT_MS = 20;

/** Thrown by heartbeat() once the group rebalances: the batch in hand is stale. */
export class StaleBatchError extends Error {
  override name = 'StaleBatchError';
}

function toHeaders(headers: readonly [Buffer | null, Buffer | null][]): RecordHeaders {
  const result: Record<string, Buffer | Buffer[]> = {};
  for (const [name, value] of headers) {
    if (name === null) continue;
    const text = name.toString('utf8');
    const v = value ?? Buffer.alloc(0);
    const earlier = result[text];
    if (earlier === undefined) result[text] = v;
    else if (Array.isArray(earlier)) earlier.push(v);
    else result[text] = [earlier, v];
  }
  return result;
}

const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

function commitOptions(offsets: readonly TopicPartitionOffset[]) {
  return { offsets: offsets.map(({ topic, partition, offset }) => ({ topic, partition, offset, leaderEpoch: -1 })) };
}

/** How long a commit refused for a rebalance waits for the member's next join before it fails. */
const JOIN_WAIT_MS = 30_000;

/**
 * The client refuses a rebalance timeout below the session timeout, which Kafka and kafkajs accept (the group then
 * waits the session timeout for a member to rejoin anyway): it is raised to the session timeout.
 */
function rebalanceTimeout(options: ConsumerOptions): { rebalanceTimeout?: number } {
  const { rebalanceTimeoutMs, sessionTimeoutMs } = options;
  if (rebalanceTimeoutMs === undefined) return {};
  return { rebalanceTimeout: Math.max(rebalanceTimeoutMs, sessionTimeoutMs ?? 0) };
}

export class PlatformaticConsumer extends ConsumerEvents implements ConsumerPort {
  /** The group member: joins, heartbeats, commits. */
  readonly #member: Consumer;
  /** Fetches and looks up offsets on connections of its own; never joins the group. */
  readonly #fetcher: Consumer;
  /** Sends the member's commits; never joins the group, never retries (see the file's comment). */
  readonly #committer: Consumer;
  readonly #options: ConsumerOptions;
  readonly #config: KafkaConnectionConfig;
  #topics: string[] = [];
  #fromBeginning = false;
  #handler: BatchHandler | undefined;
  /** Joined (onAssigned fired) and not stopping: commits are sent only then (F17). */
  #running = false;
  #stopping = false;
  #rebalancing = false;
  /** True only while the rebalancing listeners run (see the 'consumer:group:rebalance' handler). */
  #atRebalanceStart = false;
  /** Bumped by every rebalance and join: a batch handed over under an older epoch is stale. */
  #epoch = 0;
  readonly #owned = new Map<string, TopicPartition>();
  /** Next offset to fetch, by partition; absent until looked up after the join. */
  readonly #positions = new Map<string, bigint>();
  /** Paused partitions, and when each was paused (performance.now()). */
  readonly #paused = new Map<string, number>();
  readonly #loops = new Map<number, Promise<void>>();
  #wakers: (() => void)[] = [];
  readonly #commits = new Set<Promise<unknown>>();
  /** Commits refused for a rebalance, waiting for this member's next join (see #commitAsMember). */
  readonly #joinWaiters = new Set<(joined: boolean) => void>();
  /** Joins completed (assignments received): a commit refused for a rebalance compares it with its own count. */
  #joins = 0;
  /** Set when a heartbeat found the broker unreachable, until the member joins again. */
  #lost = false;

  constructor(config: KafkaConnectionConfig, options: ConsumerOptions) {
    super();
    this.#options = options;
    this.#config = config;
    const common = { ...baseOptions(config, 'consumer'), groupId: options.groupId };
    this.#member = new Consumer({
      ...common,
      autocommit: false,
      partitionAssigner: roundRobinAssigner,
      ...(options.sessionTimeoutMs === undefined ? {} : { sessionTimeout: options.sessionTimeoutMs }),
      ...(options.heartbeatIntervalMs === undefined ? {} : { heartbeatInterval: options.heartbeatIntervalMs }),
      ...rebalanceTimeout(options),
    });
    this.#fetcher = new Consumer({ ...common, clientId: `${common.clientId}-fetch`, autocommit: false });
    this.#committer = new Consumer({ ...common, clientId: `${common.clientId}-commit`, autocommit: false, retries: 0 });
    this.#member.on('consumer:group:rebalance', () => {
      this.#rebalancing = true;
      this.#epoch++;
      // the client sends the member's JoinGroup right after this event: a commit made now, on the member's own
      // connection, reaches the coordinator ahead of it, while the group still accepts the current generation
      this.#atRebalanceStart = true;
      try {
        this.listeners.rebalancing.emit();
      } finally {
        this.#atRebalanceStart = false;
      }
    });
    this.#member.on('consumer:group:join', (payload) => this.#joined(payload));
    // the member heartbeats through a broker outage without a word to the fetch loop, which may be waiting for a
    // handler (the producer cannot publish either): a heartbeat that cannot reach the broker interrupts consumption
    // (so readiness says so), and the first heartbeat that gets through again rejoins
    this.#member.on('consumer:heartbeat:error', ({ error }: { error: unknown }) => {
      if (isConnectionLost(error)) this.#connectionLost(error);
    });
    this.#member.on('consumer:heartbeat:end', () => this.#connectionBack());
    // the client emits 'error' when it gave up rejoining: no more heartbeats, the membership is gone
    this.#member.on('error', (error: Error) => {
      this.#running = false;
      this.#epoch++;
      this.#settleJoinWaiters(false);
      this.listeners.fatal.emit(error);
    });
    this.#fetcher.on('error', () => {});
    this.#committer.on('error', () => {});
  }

  async connect(): Promise<void> {
    await connectOnce(this.#member, this.#config, () =>
      Promise.all([this.#member.metadata({ topics: [] }), this.#fetcher.metadata({ topics: [] })]),
    );
  }

  async subscribe(topics: readonly string[], fromBeginning: boolean): Promise<void> {
    this.#topics = [...topics];
    this.#fromBeginning = fromBeginning;
  }

  async run(handler: BatchHandler): Promise<void> {
    this.#handler = handler;
    for (const topic of this.#topics) this.#member.topics.track(topic);
    try {
      await this.#member.joinGroup({});
    } catch (error) {
      throw new PlatformaticKafkaError(error);
    }
  }

  #joined(payload: ConsumerGroupJoinPayload): void {
    if (this.#stopping) return;
    this.#joins++;
    this.#lost = false;
    this.#rebalancing = false;
    const epoch = ++this.#epoch;
    const subscribed = new Set(this.#topics);
    const assignment: TopicPartition[] = [];
    const foreign = new Set<string>();
    for (const { topic, partitions } of payload.assignments ?? []) {
      if (!subscribed.has(topic)) {
        foreign.add(topic);
        continue;
      }
      for (const partition of partitions) assignment.push({ topic, partition });
    }
    this.#owned.clear();
    for (const tp of assignment) this.#owned.set(key(tp.topic, tp.partition), tp);
    // positions come again from the commits (as kafkajs does after a rebalance): what was fetched but not committed
    // is handed over again
    this.#positions.clear();
    this.#running = true;
    if (foreign.size > 0) this.listeners.unsubscribedTopics.emit([...foreign]);
    this.listeners.assigned.emit({ assignment, memberId: payload.memberId });
    this.#settleJoinWaiters(true);
    this.#loadPositions(epoch, assignment).catch((error: unknown) => this.#interrupt(error));
  }

  /** Committed offsets of the assignment, else the earliest or latest offset; then the fetch loops start. */
  async #loadPositions(epoch: number, assignment: readonly TopicPartition[]): Promise<void> {
    if (assignment.length === 0) return;
    await Promise.allSettled([...this.#commits]);
    const byTopic = new Map<string, number[]>();
    for (const { topic, partition } of assignment) byTopic.set(topic, [...(byTopic.get(topic) ?? []), partition]);
    for (let attempt = 0; ; attempt++) {
      if (epoch !== this.#epoch || this.#stopping) return;
      try {
        // on the committer's connection to the coordinator, which is then open when the first commit goes
        const committed = await this.#committer.listCommittedOffsets({
          topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })),
        });
        const missing = new Map<string, number[]>();
        const found = new Map<string, bigint>();
        for (const { topic, partition } of assignment) {
          const offset = committed.get(topic)?.[partition];
          if (offset !== undefined && offset >= 0n) found.set(key(topic, partition), offset);
          else missing.set(topic, [...(missing.get(topic) ?? []), partition]);
        }
        if (missing.size > 0) {
          const ends = await this.#fetcher.listOffsets({
            topics: [...missing.keys()],
            partitions: Object.fromEntries(missing),
            timestamp: this.#fromBeginning ? ListOffsetTimestamps.EARLIEST : ListOffsetTimestamps.LATEST,
          });
          for (const [topic, partitions] of missing) {
            for (const partition of partitions) {
              const offset = ends.get(topic)?.[partition];
              if (offset === undefined) throw new Error(`no offset for ${topic}/${partition}`);
              found.set(key(topic, partition), offset);
            }
          }
        }
        if (epoch !== this.#epoch || this.#stopping) return;
        for (const [k, offset] of found) this.#positions.set(k, offset);
        this.#startLoops();
        return;
      } catch (error) {
        if (attempt >= 5) throw error;
        await sleep(500);
      }
    }
  }

  /** Starts a fetch loop for every broker that leads an owned partition and has none. */
  #startLoops(): void {
    if (this.#stopping || this.#handler === undefined) return;
    this.#fetcher
      .metadata({ topics: this.#topics })
      .then((metadata) => {
        for (const tp of this.#owned.values()) {
          const leader = metadata.topics.get(tp.topic)?.partitions[tp.partition]?.leader;
          if (leader === undefined || leader < 0 || this.#loops.has(leader)) continue;
          const loop = this.#loop(leader).finally(() => this.#loops.delete(leader));
          this.#loops.set(leader, loop);
        }
      })
      .catch((error: unknown) => this.#interrupt(error));
    this.#wake();
  }

  #wake(): void {
    const wakers = this.#wakers;
    this.#wakers = [];
    for (const wake of wakers) wake();
  }

  /** Waits for a resume, a new assignment or positions, or `ms`. */
  #idle(ms: number): Promise<void> {
    return new Promise((done) => {
      const timer = setTimeout(done, ms);
      this.#wakers.push(() => {
        clearTimeout(timer);
        done();
      });
    });
  }

  async #loop(node: number): Promise<void> {
    let failures = 0;
    while (!this.#stopping) {
      let metadata: ClusterMetadata;
      try {
        metadata = await this.#fetcher.metadata({ topics: this.#topics });
      } catch (error) {
        if (++failures > 5) return this.#interrupt(error);
        await sleep(500);
        continue;
      }
      const mine = [...this.#owned.values()].filter(
        (tp) => metadata.topics.get(tp.topic)?.partitions[tp.partition]?.leader === node,
      );
      if (mine.length === 0) {
        // leadership moved: the loops of the new leaders take over
        this.#startLoops();
        return;
      }
      const fetchable = mine.filter((tp) => {
        const k = key(tp.topic, tp.partition);
        return !this.#paused.has(k) && this.#positions.has(k);
      });
      if (fetchable.length === 0) {
        await this.#idle(this.#options.maxWaitTimeMs ?? 500);
        continue;
      }
      const epoch = this.#epoch;
      const requested = new Map<string, bigint>();
      const byTopic = new Map<string, { partition: number; fetchOffset: bigint }[]>();
      for (const tp of fetchable) {
        const fetchOffset = this.#positions.get(key(tp.topic, tp.partition)) as bigint;
        requested.set(key(tp.topic, tp.partition), fetchOffset);
        byTopic.set(tp.topic, [...(byTopic.get(tp.topic) ?? []), { partition: tp.partition, fetchOffset }]);
      }
      const topicOfId = new Map<string, string>();
      const limits = fetchLimits(this.#options);
      const topics = [...byTopic].map(([topic, partitions]) => {
        const topicId = metadata.topics.get(topic)?.id as string;
        topicOfId.set(topicId, topic);
        return {
          topicId,
          partitions: partitions.map(({ partition, fetchOffset }) => ({
            partition,
            fetchOffset,
            partitionMaxBytes: limits.perPartition,
            currentLeaderEpoch: -1,
            lastFetchedEpoch: -1,
          })),
        };
      });
      let response: FetchResponse;
      try {
        response = await this.#fetcher.fetch({
          node,
          topics,
          maxWaitTime: this.#fetchWait(mine, fetchable.length),
          minBytes: 1,
          maxBytes: limits.total,
          isolationLevel: FetchIsolationLevels.READ_COMMITTED,
        });
        failures = 0;
      } catch (error) {
        if (this.#stopping) return;
        if (protocolErrorOf(error, 'OFFSET_OUT_OF_RANGE')) {
          await this.#resetOutOfRange(error, topicOfId, epoch).catch(() => sleep(500));
          continue;
        }
        if (++failures > 5) return this.#interrupt(error);
        await sleep(backoffDelay(failures + 1, 200, 5_000));
        continue;
      }
      await this.#handOver(response, topicOfId, requested, epoch);
    }
  }

  /**
   * How long a fetch to a broker waits for data. A partition left out of the request (paused, or without a position
   * yet) is fetched only after the response, so a long wait for the partitions in it, idle ones, would hold a
   * partition resumed meanwhile: at the end of a backlog, with one or two partitions left, each pause for
   * backpressure cost the rest of the wait. While a partition is left out the wait is half the time since the latest
   * pause among them (20 ms at least, maxWaitTimeMs at most): a partition paused for milliseconds waits for
   * milliseconds, and one paused for long (a retry topic's records not due yet) makes no more fetches than that.
   */
  #fetchWait(mine: readonly TopicPartition[], fetchable: number): number {
    const configured = this.#options.maxWaitTimeMs ?? 500;
    if (fetchable === mine.length) return configured;
    let latest = Number.NEGATIVE_INFINITY;
    for (const tp of mine) {
      const k = key(tp.topic, tp.partition);
      const pausedAt = this.#paused.get(k);
      if (pausedAt === undefined) {
        // not paused, so left out for want of a position: it is being looked up
        if (!this.#positions.has(k)) return Math.min(configured, MIN_FETCH_WAIT_MS);
      } else if (pausedAt > latest) latest = pausedAt;
    }
    return Math.min(configured, Math.max(MIN_FETCH_WAIT_MS, Math.floor((performance.now() - latest) / 2)));
  }

  /** The partitions a fetch found out of range start again at the earliest or latest offset. */
  async #resetOutOfRange(error: unknown, topicOfId: Map<string, string>, epoch: number): Promise<void> {
    const response = (error as { response?: FetchResponse }).response;
    for (const t of response?.responses ?? []) {
      const topic = topicOfId.get(t.topicId);
      if (topic === undefined) continue;
      for (const p of t.partitions) {
        if (p.errorCode !== 1) continue;
        const offset = this.#fromBeginning ? p.logStartOffset : p.highWatermark;
        if (epoch === this.#epoch && offset >= 0n) this.#positions.set(key(topic, p.partitionIndex), offset);
      }
    }
  }

  async #handOver(
    response: FetchResponse,
    topicOfId: Map<string, string>,
    requested: Map<string, bigint>,
    epoch: number,
  ): Promise<void> {
    const batches: PartitionBatch[] = [];
    for (const t of response.responses) {
      const topic = topicOfId.get(t.topicId);
      if (topic === undefined) continue;
      for (const p of t.partitions) {
        const k = key(topic, p.partitionIndex);
        const from = requested.get(k);
        // a partition lingering in the fetch session that this request did not ask for
        if (from === undefined || !p.records || p.records.length === 0) continue;
        const records: ConsumedRecord[] = [];
        let end = from;
        for (const batch of p.records) {
          const last = batch.firstOffset + BigInt(batch.lastOffsetDelta);
          if (last + 1n > end) end = last + 1n;
          if (batch.attributes & IS_CONTROL) continue;
          for (const r of batch.records) {
            const offset = batch.firstOffset + BigInt(r.offsetDelta);
            if (offset < from) continue;
            records.push({
              offset,
              key: r.key,
              value: r.value,
              headers: toHeaders(r.headers),
              timestamp: (batch.firstTimestamp + r.timestampDelta).toString(),
            });
          }
        }
        const tp = { topic, partition: p.partitionIndex };
        if (records.length === 0) {
          // only markers (or aborted records): move past them without a handler call
          if (end > from && epoch === this.#epoch && !this.#paused.has(k) && this.#owned.has(k)) {
            this.#positions.set(k, end);
            this.listeners.emptyBatch.emit(tp, end);
          }
          continue;
        }
        batches.push({ ...tp, records, endOffset: end, highWatermark: p.highWatermark });
      }
    }
    const concurrency = Math.max(1, this.#options.partitionsConsumedConcurrently ?? 1);
    let next = 0;
    const worker = async () => {
      while (next < batches.length) {
        const batch = batches[next++] as PartitionBatch;
        await this.#handle(batch, epoch);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, batches.length) }, worker));
  }

  async #handle(batch: PartitionBatch, epoch: number): Promise<void> {
    const k = key(batch.topic, batch.partition);
    // paused (or lost) while the fetch was on its way: not handed over, fetched again after resume
    if (this.#stopping || epoch !== this.#epoch || this.#paused.has(k) || !this.#owned.has(k)) return;
    const handler = this.#handler as BatchHandler;
    let advanced: bigint | undefined;
    let settled = false;
    const current = () => !this.#stopping && epoch === this.#epoch && !this.#rebalancing;
    const control: BatchControl = {
      heartbeat: async () => {
        // the member heartbeats by itself; this says whether the batch still belongs to this member
        if (!current()) throw new StaleBatchError('the group is rebalancing: the batch is stale');
      },
      shouldContinue: () => current() && this.#running,
      advanceTo: (nextOffset: bigint) => {
        if (!settled) advanced = nextOffset;
      },
    };
    try {
      await handler(batch, control);
    } catch (error) {
      settled = true;
      if (error instanceof StaleBatchError || !current()) return;
      // kafkajs restarts its consumer when a handler throws: the batch comes again after the next join
      this.#interrupt(error);
      return;
    }
    settled = true;
    if (advanced !== undefined && epoch === this.#epoch && this.#owned.has(k)) this.#positions.set(k, advanced);
  }

  /** The broker cannot be reached: consume nothing (and say so) until the member has joined again. */
  #connectionLost(cause: unknown): void {
    if (this.#stopping || this.#lost) return;
    this.#lost = true;
    this.#stopConsuming(cause);
  }

  /** A heartbeat got through after the broker was lost: join again, which hands out assignment and positions anew. */
  #connectionBack(): void {
    if (this.#stopping || !this.#lost) return;
    this.#lost = false;
    this.#rejoin();
  }

  /**
   * Something failed that the loop cannot get past by itself: consume nothing until the member joins again (which
   * hands out the assignment and positions anew).
   */
  #interrupt(cause: unknown): void {
    if (this.#stopping) return;
    this.#stopConsuming(cause);
    this.#rejoin();
  }

  /** Nothing fetched so far is handed over, nothing is fetched until a join gives positions again. */
  #stopConsuming(cause: unknown): void {
    this.#epoch++;
    this.#positions.clear();
    this.listeners.interrupted.emit(new PlatformaticKafkaError(cause));
  }

  #rejoin(): void {
    this.#member.joinGroup({}).catch((joinError: unknown) => {
      this.#running = false;
      this.listeners.fatal.emit(new PlatformaticKafkaError(joinError));
    });
  }

  async commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    if (offsets.length === 0) return;
    if (!this.#running || this.#stopping) {
      throw new Error('the consumer is not running (not joined, or stopping): commit not sent');
    }
    const commit = this.#commitAsMember(offsets);
    this.#commits.add(commit);
    try {
      await commit;
    } finally {
      this.#commits.delete(commit);
    }
  }

  /**
   * Sends the offsets as the member. Refused because the group rebalanced meanwhile (the engine commits what is
   * finished when a rebalance starts), they are sent once more under the generation this member joins next, as the
   * client's own commit does — but without joining again itself, which is what started the storms.
   *
   * "Next" counts joins, not generations: the member's generation changes at its JoinGroup response, before its
   * SyncGroup ends the rebalance, so a commit made in between already carries the new generation, and its refusal
   * may be read after the join. Compared by generation, it would wait for the join after that (30 s in a settled
   * group), and so would the member's fetching, which waits for commits in flight before it reads its positions.
   */
  async #commitAsMember(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    const joins = this.#joins;
    try {
      await (this.#atRebalanceStart ? this.#member.commit(commitOptions(offsets)) : this.#send(offsets));
      return;
    } catch (error) {
      const refusedForRebalance =
        protocolErrorOf(error, 'REBALANCE_IN_PROGRESS') || protocolErrorOf(error, 'ILLEGAL_GENERATION');
      if (!refusedForRebalance || !(await this.#joinedSince(joins))) throw new PlatformaticKafkaError(error);
    }
    try {
      await this.#send(offsets);
    } catch (error) {
      throw new PlatformaticKafkaError(error);
    }
  }

  /** One OffsetCommit on the committer's connection, with the member's id and current generation. */
  #send(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    // the broker checks the generation and member id, not which connection a commit comes on
    this.#committer.memberId = this.#member.memberId;
    this.#committer.generationId = this.#member.generationId;
    return this.#committer.commit(commitOptions(offsets));
  }

  /** True once the member has joined more than `joins` times; false if it stops or no join comes. */
  #joinedSince(joins: number): Promise<boolean> {
    if (this.#stopping) return Promise.resolve(false);
    if (this.#joins > joins) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (joined: boolean) => {
        clearTimeout(timer);
        this.#joinWaiters.delete(done);
        resolve(joined);
      };
      const timer = setTimeout(() => done(false), JOIN_WAIT_MS);
      this.#joinWaiters.add(done);
    });
  }

  #settleJoinWaiters(joined: boolean): void {
    for (const done of [...this.#joinWaiters]) done(joined);
  }

  pause(partitions: readonly TopicPartition[]): void {
    const now = performance.now();
    for (const { topic, partition } of partitions) {
      const k = key(topic, partition);
      // the engine pauses a paused partition again (the client may have lost it): it keeps its first time
      if (!this.#paused.has(k)) this.#paused.set(k, now);
    }
  }

  resume(partitions: readonly TopicPartition[]): void {
    for (const { topic, partition } of partitions) this.#paused.delete(key(topic, partition));
    this.#wake();
  }

  async disconnect(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#running = false;
    this.#settleJoinWaiters(false);
    this.#wake();
    await Promise.allSettled([...this.#loops.values()]);
    await Promise.allSettled([...this.#commits]);
    await Promise.all([this.#member.close(), this.#fetcher.close(), this.#committer.close()]);
  }
}
