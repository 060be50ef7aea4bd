/**
 * Non-blocking retries through delay topics: the topic names and headers, the retry pipelines and the pause-until-due
 * client wrapper (the operators retryViaTopics and awaitRetryDue live one folder up).
 */

export { type PauseUntilDueOptions, pauseUntilDue } from './pauseUntilDue.js';
export {
  type RetryTopicPipelinesOptions,
  retryTopicPipelines,
  retryTopicPipelinesOptionsSchema,
} from './retryTopicPipelines.js';
export {
  RETRY_HEADERS,
  type RetryDelay,
  type RetryTopicsOptions,
  retryTopicName,
  retryTopicNames,
} from './topics.js';
