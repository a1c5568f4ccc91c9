// `@rollgate/sdk/browser`: what a browser loads (no Node built-ins anywhere below it).
export { RollgateBrowserClient, type BrowserClientEvents, type BrowserContext, type ChangeCause, type RollgateBrowserClientOptions } from './client.js';
export type { EvaluatedFlag } from './evaluated.js';
export { FlagClientError, SDK_NAME } from '../client/transport.js';
