export type { HttpServer, HttpServerConfig, MetricsSource, Readiness } from './server.js';
export { startHttpServer } from './server.js';
