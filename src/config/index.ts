export { parseBroker } from './brokers.js';
export type { ConfigProblem } from './configError.js';
export { CONFIG_EXIT_CODE, ConfigError, formatConfigError } from './configError.js';
export type { ConfigVariable, LogLevel, SaslMechanism } from './configSchema.js';
export { CONFIG_VARIABLES, DEFAULT_HTTP_PORT, envSchema, LOG_LEVELS, SASL_MECHANISMS } from './configSchema.js';
export type { KafkaConfig, KafkaSaslConfig, KafkaSslConfig, TributaryConfig } from './loadConfig.js';
export { loadConfig, redactConfig } from './loadConfig.js';
