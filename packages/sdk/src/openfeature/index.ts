export { RollgateProvider, changedFlags } from './server-provider.js';
export { resolveTyped, type FlagType, type RuleSource, type TypedResolution } from './typed.js';
