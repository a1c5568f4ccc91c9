/**
 * Flag kinds and how long each is expected to live, as Unleash's feature types have it: release
 * and experiment flags 40 days, operational 7; kill switches and permissions are permanent (null).
 * A flag past its lifetime is a candidate for removal, never switched off by the platform.
 */
import { FLAG_KINDS, type FlagKind } from '../store/flags-types.js';

export { FLAG_KINDS, type FlagKind };

export const DEFAULT_LIFETIME_DAYS: Readonly<Record<FlagKind, number | null>> = {
  release: 40,
  experiment: 40,
  operational: 7,
  'kill-switch': null,
  permission: null,
};

export function isFlagKind(k: unknown): k is FlagKind {
  return typeof k === 'string' && (FLAG_KINDS as readonly string[]).includes(k);
}
