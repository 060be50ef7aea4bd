/**
 * A consumer group of the in-memory Kafka, with the classic (eager) rebalance protocol: when a member joins or
 * leaves, every member gives up its partitions and rejoins (a member busy with a batch rejoins once that batch is
 * over, or when its heartbeat tells it the group is rebalancing); once all have rejoined, the partitions of every
 * subscribed topic are dealt round-robin among the members, and each member resumes from the committed offsets.
 * Committed offsets outlive the members, as on a broker.
 */
import type { TopicPartition } from '../../kafka/ports.js';
import type { TopicLog } from '../testTopics.js';

/** What a member of a group must answer to (the in-memory consumer). */
export interface GroupMember {
  readonly memberId: string;
  readonly topics: readonly string[];
  /** The group started a rebalance: the member should rejoin as soon as its batch in hand is over. */
  rebalanceStarted(): void;
  /** The next offset the member fetches from a partition it owns, or undefined. */
  position(topic: string, partition: number): bigint | undefined;
}

/** What a group needs of its cluster: the topics' partition counts, and the change signal. */
export interface GroupCluster {
  topic(name: string): TopicLog | undefined;
  changed(): void;
}

export interface GroupAssignment {
  readonly generation: number;
  readonly assignment: readonly TopicPartition[];
}

const key = (topic: string, partition: number) => `${topic}\u0000${partition}`;

export class MemoryGroup {
  readonly groupId: string;
  readonly #kafka: GroupCluster;
  readonly #members: GroupMember[] = [];
  readonly #committed = new Map<string, bigint>();
  readonly #rejoined = new Map<GroupMember, (assignment: GroupAssignment) => void>();
  #generation = 0;
  #rebalancing = false;
  #assignments = new Map<GroupMember, readonly TopicPartition[]>();

  constructor(groupId: string, kafka: GroupCluster) {
    this.groupId = groupId;
    this.#kafka = kafka;
  }

  get generation(): number {
    return this.#generation;
  }

  /** A rebalance started and not every member has rejoined yet. */
  get rebalancing(): boolean {
    return this.#rebalancing;
  }

  /** Member ids, in the order they joined. */
  get memberIds(): string[] {
    return this.#members.map((m) => m.memberId);
  }

  /** Whether a member subscribes to `topic`. */
  consumes(topic: string): boolean {
    return this.#members.some((m) => m.topics.includes(topic));
  }

  /** The members, in the order they joined. */
  get members(): readonly GroupMember[] {
    return this.#members;
  }

  /** The partitions each member owns now, by member id. */
  assignments(): Map<string, readonly TopicPartition[]> {
    return new Map([...this.#assignments].map(([member, tps]) => [member.memberId, tps]));
  }

  join(member: GroupMember): void {
    if (!this.#members.includes(member)) this.#members.push(member);
    this.#startRebalance();
  }

  leave(member: GroupMember): void {
    const index = this.#members.indexOf(member);
    if (index < 0) return;
    this.#members.splice(index, 1);
    // a member leaving while it waits to rejoin gets nothing
    this.#rejoined.get(member)?.({ generation: -1, assignment: [] });
    this.#rejoined.delete(member);
    this.#assignments.delete(member);
    if (this.#members.length === 0) {
      this.#rebalancing = false;
      this.#kafka.changed();
      return;
    }
    this.#startRebalance();
    this.#complete();
  }

  /** Forces a rebalance (a member that crashed and restarts rejoins; topics changed). */
  rebalance(): void {
    if (this.#members.length > 0) this.#startRebalance();
  }

  /** The member rejoins; resolves with its new assignment once every member has rejoined. */
  rejoin(member: GroupMember): Promise<GroupAssignment> {
    if (!this.#members.includes(member)) return Promise.reject(new Error(`${member.memberId} is not in the group`));
    if (!this.#rebalancing) this.#startRebalance();
    const assigned = new Promise<GroupAssignment>((resolve) => this.#rejoined.set(member, resolve));
    this.#complete();
    return assigned;
  }

  /** Whether `member` must rejoin before it fetches again. */
  mustRejoin(member: GroupMember, generation: number): boolean {
    return (this.#rebalancing && !this.#rejoined.has(member)) || generation !== this.#generation;
  }

  committed(topic: string, partition: number): bigint | undefined {
    return this.#committed.get(key(topic, partition));
  }

  /** Committed offsets of one topic, by partition (partitions without a commit are absent). */
  committedOffsets(topic: string): Map<number, bigint> {
    const result = new Map<number, bigint>();
    const log = this.#kafka.topic(topic);
    const partitions = log?.partitions ?? 0;
    for (let p = 0; p < partitions; p++) {
      const offset = this.#committed.get(key(topic, p));
      if (offset !== undefined) result.set(p, offset);
    }
    return result;
  }

  commit(topic: string, partition: number, offset: bigint): void {
    this.#committed.set(key(topic, partition), offset);
  }

  #startRebalance(): void {
    const wasRebalancing = this.#rebalancing;
    this.#rebalancing = true;
    if (!wasRebalancing) {
      for (const member of this.#members) member.rebalanceStarted();
    }
    this.#kafka.changed();
  }

  #complete(): void {
    if (!this.#rebalancing) return;
    if (!this.#members.every((m) => this.#rejoined.has(m))) return;
    this.#generation++;
    this.#rebalancing = false;
    const assignments = this.#assign();
    this.#assignments = assignments;
    const waiting = [...this.#rejoined];
    this.#rejoined.clear();
    for (const [member, resolve] of waiting) {
      resolve({ generation: this.#generation, assignment: assignments.get(member) ?? [] });
    }
    this.#kafka.changed();
  }

  /** Every partition of every topic a member subscribes to, dealt round-robin over the members in join order. */
  #assign(): Map<GroupMember, TopicPartition[]> {
    const topics = [...new Set(this.#members.flatMap((m) => m.topics))].sort();
    const partitions: TopicPartition[] = [];
    for (const topic of topics) {
      const log = this.#kafka.topic(topic);
      for (let p = 0; p < (log?.partitions ?? 0); p++) partitions.push({ topic, partition: p });
    }
    const result = new Map<GroupMember, TopicPartition[]>(this.#members.map((m) => [m, []]));
    partitions.forEach((tp, i) => {
      result.get(this.#members[i % this.#members.length] as GroupMember)?.push(tp);
    });
    return result;
  }
}
