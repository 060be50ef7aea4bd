/** Non-blocking retries through delay topics: the retry pipelines (the operators live in operators/). */

export { type PauseUntilDueOptions, pauseUntilDue } from './pauseUntilDue.js';
export {
  type RetryTopicPipelinesOptions,
  retryTopicPipelines,
  retryTopicPipelinesOptionsSchema,
} from './retryTopicPipelines.js';
