/** Feature flags on the server: the service, SDK keys, the rules' checks. */
export { Flags, type FlagDetail, type FlagView, type FlagEnvSummary, type FlagStateResult, type FlagsDeps } from './flags.js';
export { FLAG_KEY_REVOKED, FlagKeys, type CreatedFlagKey, type ResolvedFlagKey } from './flag-keys.js';
export { FLAG_CHANGED, type FlagChangedData, type Who } from './changes.js';
export type { ImportResult } from './import.js';
export { DEFAULT_LIFETIME_DAYS } from './kinds.js';
