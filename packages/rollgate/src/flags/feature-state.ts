/** A flag's state in an environment as part of the environment's whole state (Unleash's ClientFeatures). */
import type { ClientFeatures, Feature } from '@rollgate/sdk/engine';
import type { FlagState } from '../store/flags-types.js';

const STATE_FIELDS = ['enabled', 'strategies', 'variants', 'dependencies', 'impressionData'] as const;

/** The state fields of a Feature, in a fixed order. */
export function stateOf(f: Feature | FlagState): FlagState {
  const out: FlagState = { enabled: f.enabled };
  for (const k of STATE_FIELDS) if (k !== 'enabled' && f[k] !== undefined) (out as Record<string, unknown>)[k] = f[k];
  return out;
}

/** The state with `f` in place of the feature of that name (its index kept), or appended. */
export function withFeature(state: ClientFeatures, f: Feature): { after: ClientFeatures; index: number } {
  const features = [...state.features];
  let index = features.findIndex((x) => x.name === f.name);
  if (index < 0) index = features.push(f) - 1;
  else features[index] = f;
  return { after: { ...state, features }, index };
}
