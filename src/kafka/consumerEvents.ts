/**
 * The events every ConsumerPort offers (onAssigned, onRebalancing, onFatal, onInterrupted, onUnsubscribedTopics,
 * onEmptyBatch), for an adapter to extend: it emits through `this.listeners`, the port's methods add and remove.
 */
import { Listeners } from './listeners.js';
import type { AssignmentEvent, ConsumerPort, TopicPartition } from './ports.js';

type ConsumerEventMethods = Pick<
  ConsumerPort,
  'onAssigned' | 'onRebalancing' | 'onFatal' | 'onInterrupted' | 'onUnsubscribedTopics' | 'onEmptyBatch'
>;

export abstract class ConsumerEvents implements ConsumerEventMethods {
  protected readonly listeners = {
    assigned: new Listeners<[AssignmentEvent]>(),
    rebalancing: new Listeners<[]>(),
    fatal: new Listeners<[Error]>(),
    interrupted: new Listeners<[Error]>(),
    unsubscribedTopics: new Listeners<[readonly string[]]>(),
    emptyBatch: new Listeners<[TopicPartition, bigint]>(),
  };

  onAssigned(listener: (event: AssignmentEvent) => void): () => void {
    return this.listeners.assigned.add(listener);
  }
  onRebalancing(listener: () => void): () => void {
    return this.listeners.rebalancing.add(listener);
  }
  onFatal(listener: (error: Error) => void): () => void {
    return this.listeners.fatal.add(listener);
  }
  onInterrupted(listener: (error: Error) => void): () => void {
    return this.listeners.interrupted.add(listener);
  }
  onUnsubscribedTopics(listener: (topics: readonly string[]) => void): () => void {
    return this.listeners.unsubscribedTopics.add(listener);
  }
  onEmptyBatch(listener: (partition: TopicPartition, endOffset: bigint) => void): () => void {
    return this.listeners.emptyBatch.add(listener);
  }
}
