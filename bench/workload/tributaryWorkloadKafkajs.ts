/** Contender (a''): the same Tributary pipeline as tributaryWorkload.ts, on the kafkajs adapter (KAFKA_CLIENT=kafkajs). */
process.env.BENCH_TRIBUTARY_LIBRARY = 'kafkajs';
await import('./tributaryWorkload.js');
