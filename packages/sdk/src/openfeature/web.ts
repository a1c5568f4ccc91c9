// `@rollgate/sdk/openfeature-web`: the provider for @openfeature/web-sdk (browser-safe; it never loads the server SDK).
export { RollgateWebProvider } from './web-provider.js';
export { RollgateBrowserClient, type RollgateBrowserClientOptions, type BrowserContext, type EvaluatedFlag } from '../browser/index.js';
