export type { HttpServer, HttpServerOptions, MetricsSource, Readiness } from './server.js';
export { startHttpServer } from './server.js';
