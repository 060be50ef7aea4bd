export { type PublishConfig, publish, serializeValue } from './publish.js';
