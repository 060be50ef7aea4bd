/** The workload as a Tributary chain, shared by the in-process contender and the CLI's pipeline module. */
import type { Observable } from 'rxjs';
import {
  branchToDeadLetter,
  type Element,
  mapValue,
  parseJson,
  publish,
  type RawValue,
  validate,
} from '../../src/index.js';
import { type EnrichedEvent, enrich, outputKey, WorkloadEvent } from './definition.js';

export function workloadChain(output: string) {
  return (records: Observable<Element<RawValue>>): Observable<Element<EnrichedEvent>> =>
    records.pipe(
      parseJson(),
      validate(WorkloadEvent),
      mapValue(enrich),
      branchToDeadLetter(),
      publish(output, { key: (element) => outputKey(element.value) }),
    );
}
