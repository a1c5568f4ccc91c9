export { RollgateClient, FlagClientError, SDK_NAME, type RollgateClientOptions, type ClientEvents } from './client.js';
export { readSse, type SseEvent } from './sse.js';
