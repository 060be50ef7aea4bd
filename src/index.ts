/**
 * Tributary's one public entry point. The engine (definePipeline, createEngine), the operators and the metrics
 * are exported from here as they land; see DESIGN.md §3.
 */
export const VERSION = '0.1.0';
