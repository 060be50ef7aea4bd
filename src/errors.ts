/**
 * One error type for the engine and its operators. `code` is a stable TRIBUTARY_ERR_* name from the catalogue below
 * (each documented in docs/errors.md); `retriable` tells retryWithBackoff whether another attempt can help.
 */
export const ERROR_CATALOGUE = {
  TRIBUTARY_ERR_CONFIG: { retriable: false, summary: 'A configuration value is missing or invalid.' },
  TRIBUTARY_ERR_PIPELINE_DEFINITION: {
    retriable: false,
    summary: 'A pipeline, an operator option or a retry plan is invalid (thrown when the pipeline is built).',
  },
  TRIBUTARY_ERR_PARSE: {
    retriable: false,
    summary: 'A record value could not be decoded (malformed, non-UTF-8, null).',
  },
  TRIBUTARY_ERR_VALIDATION: { retriable: false, summary: 'A decoded value does not match its schema.' },
  TRIBUTARY_ERR_PROCESSING: { retriable: true, summary: 'A processing step threw or rejected.' },
  TRIBUTARY_ERR_TIMEOUT: { retriable: true, summary: 'A processing step did not settle within its timeout.' },
  TRIBUTARY_ERR_PUBLISH: { retriable: false, summary: 'The broker refused a record for good (e.g. too large).' },
  TRIBUTARY_ERR_PIPELINE_CRASHED: { retriable: true, summary: 'A pipeline chain errored; the pipeline restarts.' },
  TRIBUTARY_ERR_SHUTDOWN_TIMEOUT: { retriable: false, summary: 'In-flight records did not drain before the timeout.' },
} as const satisfies Record<string, { retriable: boolean; summary: string }>;

export type TributaryErrorCode = keyof typeof ERROR_CATALOGUE;

export interface TributaryErrorContext {
  retriable?: boolean;
  cause?: unknown;
  topic?: string;
  partition?: number;
  offset?: bigint;
  /** Extra machine-readable detail (e.g. zod issues for validation errors). */
  details?: unknown;
}

export class TributaryError extends Error {
  override name = 'TributaryError';
  readonly code: TributaryErrorCode;
  readonly retriable: boolean;
  readonly topic: string | undefined;
  readonly partition: number | undefined;
  readonly offset: bigint | undefined;
  readonly details: unknown;

  constructor(code: TributaryErrorCode, message: string, context: TributaryErrorContext = {}) {
    super(message, context.cause === undefined ? undefined : { cause: context.cause });
    this.code = code;
    this.retriable = context.retriable ?? ERROR_CATALOGUE[code].retriable;
    this.topic = context.topic;
    this.partition = context.partition;
    this.offset = context.offset;
    this.details = context.details;
  }
}

/**
 * `error` and its causes, outermost first (at most five deep): client libraries wrap the error that says what
 * happened (a protocol error type, a connection error) in errors that only say how often it was tried.
 */
export function* causeChain(error: unknown): Generator<object> {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    yield current;
    current = (current as { cause?: unknown }).cause;
  }
}

/** Whether another attempt may help: TributaryError says so itself; kafkajs errors carry `retriable`; others: yes. */
export function isRetriable(error: unknown): boolean {
  if (error instanceof TributaryError) return error.retriable;
  if (typeof error === 'object' && error !== null && 'retriable' in error) {
    return (error as { retriable: unknown }).retriable !== false;
  }
  return true;
}

/** A readable one-line message for any thrown value. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'string') return error;
  try {
    return JSON.stringify(error) ?? String(error);
  } catch {
    return String(error);
  }
}
