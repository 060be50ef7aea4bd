/** Building failed elements: every operator failure carries the record's origin in its TributaryError. */
import { type Element, type FailedEnvelope, failed } from '../../src/envelope.js';
import { TributaryError, type TributaryErrorCode } from '../../src/errors.js';

export interface FailureExtra {
  cause?: unknown;
  details?: unknown;
  retriable?: boolean;
}

/** A TributaryError located at the element's topic, partition and offset. */
export function recordError(
  element: Element<unknown>,
  code: TributaryErrorCode,
  message: string,
  extra: FailureExtra = {},
): TributaryError {
  const { topic, partition, offset } = element.origin;
  return new TributaryError(code, message, { ...extra, topic, partition, offset });
}

/** `element` failed at `stage`; it flows on untouched until a dead-letter stage. */
export function failAt(
  element: Element<unknown>,
  stage: string,
  code: TributaryErrorCode,
  message: string,
  extra: FailureExtra = {},
): FailedEnvelope {
  return failed(element, stage, recordError(element, code, message, extra));
}
