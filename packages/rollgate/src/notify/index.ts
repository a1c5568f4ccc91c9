export * from './types.js';
export * from './notification.js';
export * from './webhook.js';
export * from './slack.js';
export * from './cdevents.js';
export * from './channel.js';
export * from './delivery-log.js';
export { NotificationDispatcher, type DispatcherOptions } from './dispatcher.js';
export { maskUrl } from './http.js';
