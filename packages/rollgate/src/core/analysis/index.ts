/**
 * The analysis judge: pure, deterministic statistics that turn per-version counts into
 * pass / fail / inconclusive verdicts with the numbers behind them. No clock, no I/O.
 * See each module's header for the guarantee it gives.
 */
export * from './types.js';
export * from './math.js';
export * from './confidence-sequence.js';
export * from './e-process.js';
export * from './error-rate.js';
export * from './mann-whitney.js';
export * from './histogram.js';
export * from './latency.js';
export * from './threshold.js';
export * from './combine.js';
export * from './counters.js';
export * from './warmup.js';
export * from './builtin.js';
export * from './resources.js';
