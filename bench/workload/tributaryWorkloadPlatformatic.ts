/** Contender (a'): the same Tributary pipeline as tributaryWorkload.ts, on the @platformatic/kafka adapter. */
process.env.BENCH_TRIBUTARY_LIBRARY = 'platformatic';
await import('./tributaryWorkload.js');
