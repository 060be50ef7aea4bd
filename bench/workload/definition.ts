/**
 * The benchmark workload, shared by every contender (DESIGN: bench/README.md, "Workload"). A record is a ~170-byte
 * JSON page event keyed by its user; each contender parses it, validates it against {@link WorkloadEvent}, adds
 * {@link enrich}'s field, publishes the valid ones to the output topic keyed by `userId`, and writes the invalid ones
 * (their original key and value) to its dead-letter topic. bench/streams/.../WorkloadStreams.java implements the
 * same rules in Java: keep the two in step.
 */
import * as z from 'zod';

export const EVENT_TYPES = ['view', 'click', 'cart', 'purchase'] as const;
export const DEVICES = ['mobile', 'desktop', 'tablet'] as const;

/** What a valid record is. Every field is required; the generator writes them in this order. */
export const WorkloadEvent = z.object({
  id: z.number().int().nonnegative(),
  ts: z.number().int().positive(),
  userId: z.string().min(1),
  type: z.enum(EVENT_TYPES),
  amount: z.number().nonnegative(),
  currency: z.string().length(3),
  sessionId: z.string().min(1),
  page: z.string().startsWith('/'),
  device: z.enum(DEVICES),
});
export type WorkloadEvent = z.output<typeof WorkloadEvent>;

/** A valid record after the transformation: the same fields and `amountCents`. */
export interface EnrichedEvent extends WorkloadEvent {
  amountCents: number;
}

/** The transformation: adds `amountCents` = round(amount × 100) (Java: Math.round, the same for amount ≥ 0). */
export function enrich(event: WorkloadEvent): EnrichedEvent {
  return { ...event, amountCents: Math.round(event.amount * 100) };
}

/** The output key: the event's user. */
export function outputKey(event: WorkloadEvent): string {
  return event.userId;
}

/** One record in a hundred is invalid: those whose id ends in 99 (the generator decides, every contender checks). */
export const INVALID_EVERY = 100;

export function isInvalidId(id: number): boolean {
  return id % INVALID_EVERY === INVALID_EVERY - 1;
}

/** Valid records among ids 0 … count − 1, i.e. what a contender publishes to its output topic. */
export function validAmong(count: number): number {
  return count - Math.floor(count / INVALID_EVERY);
}
