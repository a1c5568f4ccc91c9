export { RollgateClient, FlagClientError, SDK_NAME, type RollgateClientOptions, type ClientEvents } from './client.js';
export { readSse, type SseEvent } from './sse.js';
export { Outcomes, OUTCOME_LATENCY_BOUNDS_MS, MAX_OUTCOME_PAIRS, type OutcomeBatch, type OutcomePair, type OutcomeSink } from './outcomes.js';
