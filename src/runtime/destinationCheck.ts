/**
 * The engine's look at its static destinations — each pipeline's dead-letter topic and the output topics its stages
 * name — at start-up: missing ones are logged and reported by `/readyz` until they exist (checked again every
 * `recheckMs`). The engine starts anyway: a broker that auto-creates topics creates them on first use, and records
 * sent to a topic that stays missing fail and are dead-lettered, without holding up other topics.
 */
import type { Logger } from 'pino';
import { type CancelTimer, type Clock, systemClock } from '../clock.js';
import { errorMessage } from '../errors.js';
import type { AdminPort, KafkaClientPort } from '../kafka/ports.js';
import type { Pipeline } from './definePipeline.js';
import { inspectPipeline } from './inspectPipeline.js';
import { missingTopics } from './missingTopics.js';

/** Dead-letter topics and the output topics the stages name (dynamic topics are not known here). */
export function staticDestinations(pipelines: readonly Pick<Pipeline, 'build' | 'source' | 'deadLetter'>[]): string[] {
  const topics = new Set<string>();
  for (const pipeline of pipelines) {
    topics.add(pipeline.deadLetter.topic);
    for (const topic of inspectPipeline(pipeline).outputTopics) topics.add(topic); // templates come resolved
  }
  return [...topics];
}

export interface DestinationCheckOptions {
  /** How long to wait before checking again while something is missing. Default 15 s. */
  recheckMs?: number;
  /** Times the re-checks. Default: the system clock (the test driver passes its virtual one). */
  clock?: Clock;
}

export class DestinationCheck {
  readonly #client: KafkaClientPort;
  readonly #topics: readonly string[];
  readonly #logger: Logger;
  readonly #recheckMs: number;
  readonly #clock: Clock;
  #missing: readonly string[] = [];
  #cancelRecheck: CancelTimer | undefined;
  #stopped = false;

  constructor(
    client: KafkaClientPort,
    topics: readonly string[],
    logger: Logger,
    { recheckMs = 15_000, clock = systemClock }: DestinationCheckOptions = {},
  ) {
    this.#client = client;
    this.#topics = topics;
    this.#logger = logger;
    this.#recheckMs = recheckMs;
    this.#clock = clock;
  }

  /** Destinations the broker did not have at the last check. */
  get missing(): readonly string[] {
    return this.#missing;
  }

  /** Checks once now; while something is missing, checks again every `recheckMs`. Never rejects. */
  async start(): Promise<void> {
    await this.#check(true);
  }

  stop(): void {
    this.#stopped = true;
    this.#cancelRecheck?.();
    this.#cancelRecheck = undefined;
  }

  async #check(first: boolean): Promise<void> {
    if (this.#stopped || this.#topics.length === 0) return;
    let admin: AdminPort | undefined;
    try {
      admin = this.#client.admin();
      await admin.connect();
      const missing = await missingTopics(admin, this.#topics);
      if (missing.length > 0 && (first || missing.join() !== this.#missing.join())) {
        this.#logger.warn(
          { missingTopics: missing },
          `destination topics do not exist: ${missing.join(', ')}; records sent there fail and are dead-lettered (unless the broker creates topics on first use)`,
        );
      } else if (missing.length === 0 && this.#missing.length > 0) {
        this.#logger.info({ topics: this.#missing }, 'the missing destination topics exist now');
      }
      this.#missing = missing;
    } catch (error) {
      this.#logger.warn({ err: error }, `could not check the destination topics: ${errorMessage(error)}`);
    } finally {
      await admin?.disconnect().catch(() => {});
    }
    if (this.#missing.length > 0 && !this.#stopped) {
      this.#cancelRecheck = this.#clock.setTimeout(() => {
        this.#cancelRecheck = undefined;
        this.#check(false).catch(() => {}); // #check never rejects; the catch keeps that local
      }, this.#recheckMs);
    }
  }
}
