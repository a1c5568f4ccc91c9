/**
 * What a percentage means for a flag's state (pure): the flexibleRollout strategy's `rollout`, or
 * one variant's share of the variants (weights out of 1000, the others sharing the rest in
 * proportion to what they had). Used by `flags rollout --percent`, rollout steps and schedules.
 */
import type { Strategy, Variant } from '@rollgate/sdk/engine';
import { RollgateError } from '../core/errors.js';
import type { FlagState } from '../store/flags-types.js';

export const FLEXIBLE_ROLLOUT = 'flexibleRollout';

export function flexibleRollouts(state: FlagState): number[] {
  return (state.strategies ?? []).flatMap((s, i) => (s.name === FLEXIBLE_ROLLOUT ? [i] : []));
}

function describe(strategies: Strategy[], at: number[]): string {
  return at.length ? at.map((i) => `${i}${strategies[i]?.id ? ` (id ${strategies[i]!.id})` : ''}`).join(', ') : 'none';
}

/**
 * Sets the flexibleRollout strategy's `rollout` to `percent`. With none, one is added (stickiness
 * default, group id the flag's name); with several, `strategy` (index or id) says which.
 */
export function withPercent(prior: FlagState | null, flag: string, env: string, percent: number, strategy?: number | string): FlagState {
  const state: FlagState = prior ? { ...prior } : { enabled: false };
  const strategies = [...(state.strategies ?? [])];
  const candidates = flexibleRollouts(state);
  const rollout = String(percent);
  let at: number;
  if (strategy !== undefined) {
    at = typeof strategy === 'number' ? strategy : strategies.findIndex((s) => s.id === strategy);
    if (at < 0 || strategies[at]?.name !== FLEXIBLE_ROLLOUT) {
      throw new RollgateError('invalid_input', `strategy ${String(strategy)} of flag ${flag} in ${env} is not a flexibleRollout strategy; its flexibleRollout strategies are ${describe(strategies, candidates)}`);
    }
  } else if (candidates.length > 1) {
    throw new RollgateError('invalid_input', `flag ${flag} has ${candidates.length} flexibleRollout strategies in ${env} (${describe(strategies, candidates)}); say which with --strategy INDEX or ID (strategy in the body)`);
  } else at = candidates[0] ?? -1;
  if (at < 0) {
    strategies.push({ name: FLEXIBLE_ROLLOUT, parameters: { rollout, stickiness: 'default', groupId: flag }, constraints: [] });
  } else {
    const s: Strategy = strategies[at]!;
    strategies[at] = { ...s, parameters: { stickiness: 'default', groupId: flag, ...s.parameters, rollout } };
  }
  return { ...state, strategies };
}

/** The flexibleRollout percentage when the flag has exactly one such strategy, else null. */
export function percentOf(state: FlagState | null): number | null {
  if (!state) return null;
  const fr = flexibleRollouts(state);
  const v = fr.length === 1 ? state.strategies![fr[0]!]!.parameters?.rollout : undefined;
  return v === undefined ? null : Number(v);
}

/** Where the variant named `name` is: the single strategy whose variants hold it, else the flag's own variants. */
function variantList(state: FlagState, name: string): { strategy: number | null; variants: Variant[] } | null {
  const inStrategies = (state.strategies ?? []).flatMap((s, i) => (s.variants?.some((v) => v.name === name) ? [i] : []));
  if (inStrategies.length === 1) return { strategy: inStrategies[0]!, variants: state.strategies![inStrategies[0]!]!.variants! };
  if (inStrategies.length > 1) throw new RollgateError('invalid_input', `variant ${name} is in ${inStrategies.length} strategies (${inStrategies.join(', ')}); a rollout moves one variant's share in one place`);
  if (state.variants?.some((v) => v.name === name)) return { strategy: null, variants: state.variants };
  return null;
}

/** The named variant's share in percent (weight / 10), or null when the flag has no such variant. */
export function variantPercentOf(state: FlagState | null, name: string): number | null {
  const found = state ? variantList(state, name) : null;
  const v = found?.variants.find((x) => x.name === name);
  return v ? v.weight / 10 : null;
}

/**
 * Gives variant `name` weight percent × 10; the other variants share what is left in proportion to
 * their weights (evenly when they had none), rounded so the weights add up to exactly 1000.
 */
export function withVariantPercent(prior: FlagState | null, flag: string, env: string, name: string, percent: number): FlagState {
  const found = prior ? variantList(prior, name) : null;
  if (!prior || !found) throw new RollgateError('invalid_input', `flag ${flag} has no variant ${name} in ${env}; add the variant to the flag's rules first (\`rollgate flags set\`)`);
  if (found.variants.length < 2) throw new RollgateError('invalid_input', `variant ${name} is the only variant of flag ${flag} in ${env}: it always has all of it; add the variant it takes its share from`);
  const own = Math.round(percent * 10);
  const others = found.variants.filter((v) => v.name !== name);
  const had = others.reduce((a, v) => a + v.weight, 0);
  const rest = 1000 - own;
  // Largest remainders, so the shares add up to exactly `rest`.
  const exact = others.map((v) => (had > 0 ? (v.weight * rest) / had : rest / others.length));
  const floors = exact.map(Math.floor);
  let left = rest - floors.reduce((a, b) => a + b, 0);
  const order = exact.map((x, i) => ({ i, r: x - Math.floor(x) })).sort((a, b) => b.r - a.r || a.i - b.i);
  for (const { i } of order) {
    if (left <= 0) break;
    floors[i]!++;
    left--;
  }
  let k = 0;
  const variants = found.variants.map((v) => ({ ...v, weightType: 'variable' as const, weight: v.name === name ? own : floors[k++]! }));
  if (found.strategy === null) return { ...prior, variants };
  const strategies = [...prior.strategies!];
  strategies[found.strategy] = { ...strategies[found.strategy]!, variants };
  return { ...prior, strategies };
}
