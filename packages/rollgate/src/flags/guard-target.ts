/**
 * What a guarded rollout compares (pure): the variant names the app's responses carry for the
 * treatment and for the control, and the safe value a failing guard sets.
 * - Percentage rollout of a flag without variants: `on` against `off` (isEnabled); safe: off.
 * - Percentage rollout of a flag with variants: every variant name against `disabled`/`off`
 *   (users outside the rollout get no variant); safe: off.
 * - A variant's share (`--variant V`): V against the control variant (`--control`, else the only
 *   other variant, else one named `control`); safe: V's share to 0%.
 */
import { RollgateError } from '../core/errors.js';
import type { FlagRolloutGuard } from '../store/flag-rollouts-types.js';
import type { FlagState } from '../store/flags-types.js';

function variantNames(state: FlagState | null): string[] {
  const names = new Set<string>();
  for (const v of state?.variants ?? []) names.add(v.name);
  for (const s of state?.strategies ?? []) for (const v of s.variants ?? []) names.add(v.name);
  return [...names];
}

export function guardFor(prior: FlagState | null, flag: string, variant: string | null, control: string | undefined): FlagRolloutGuard {
  const fresh = { look: null, killedAt: null };
  const names = variantNames(prior);
  if (variant === null) {
    if (names.length === 0) return { treatment: ['on'], control: ['off'], safe: 'off', ...fresh };
    return { treatment: names, control: ['disabled', 'off'].filter((n) => !names.includes(n)), safe: 'off', ...fresh };
  }
  const others = names.filter((n) => n !== variant);
  let against = control;
  if (against === undefined) {
    if (others.length === 1) against = others[0];
    else if (others.includes('control')) against = 'control';
  }
  if (against === undefined) {
    throw new RollgateError('invalid_input', `control: flag ${flag} has ${others.length === 0 ? 'no other variant' : `variants ${others.join(', ')}`} beside ${variant}; say which one the guard compares it with (--control NAME)`);
  }
  if (!others.includes(against)) throw new RollgateError('invalid_input', `control: flag ${flag} has no variant "${against}" (it has ${names.join(', ') || 'none'}); name one of them`);
  return { treatment: [variant], control: [against], safe: 'variant-zero', ...fresh };
}
