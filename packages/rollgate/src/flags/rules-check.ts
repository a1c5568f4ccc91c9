/**
 * Checking rules before they are stored: the shape (rules-schema.ts), then what the new state
 * means as a whole: every segment a strategy names exists, and the engine's `ruleProblems` finds
 * nothing new. Problems the state had before the change are not the change's fault and do not
 * block it (they were stored by an older check); every new one refuses the change, naming where.
 */
import type { z } from 'zod';
import { ruleProblems, type ClientFeatures, type RuleProblem } from '@rollgate/sdk/engine';
import { RollgateError } from '../core/errors.js';
import { pathText } from './rules-schema.js';

export interface Problem {
  path: string;
  message: string;
}

const SHOWN = 5;

/** A 400 naming each problem's path and what is expected there; `details.problems` has them all. */
export function rulesRefused(where: string, problems: Problem[]): RollgateError {
  const shown = problems.slice(0, SHOWN).map((p) => (p.path ? `${p.path}: ${p.message}` : p.message));
  const more = problems.length > SHOWN ? `; and ${problems.length - SHOWN} more` : '';
  return new RollgateError('invalid_input', `invalid ${where}: ${shown.join('; ')}${more}; nothing was changed`, { problems: problems.slice(0, 100) });
}

/** Parses `value` with `schema`, or throws a 400 naming each problem's path into `value` ("" for `value` itself). */
export function parseRules<S extends z.ZodType>(schema: S, value: unknown, where: string): z.output<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw rulesRefused(
    where,
    r.error.issues.map((i) => ({ path: pathText(i.path), message: i.message })),
  );
}

/** Segment ids named by strategies of the features at `indexes` that the state does not define. */
function unknownSegments(state: ClientFeatures, indexes: readonly number[]): Problem[] {
  const known = new Set((state.segments ?? []).map((s) => s.id));
  const out: Problem[] = [];
  for (const i of indexes) {
    state.features[i]?.strategies?.forEach((s, si) =>
      s.segments?.forEach((id, k) => {
        if (!known.has(id)) out.push({ path: `features[${i}].strategies[${si}].segments[${k}]`, message: `segment ${id} does not exist in this environment; define it (import it with the flags) or remove the reference` });
      }),
    );
  }
  return out;
}

const key = (p: RuleProblem) => `${p.path}\u0000${p.message}`;

/**
 * The problems of `after` that `before` did not have, for the features at `changed` (indexes
 * into after.features; features keep their index between the two so old problems match).
 * `rename` turns a state path into the caller's own (e.g. `features[3]` into the body's root).
 */
export function newProblems(before: ClientFeatures, after: ClientFeatures, changed: readonly number[], rename: (path: string) => string): Problem[] {
  const old = new Set(ruleProblems(before).map(key));
  const found = [...unknownSegments(after, changed), ...ruleProblems(after).filter((p) => !old.has(key(p)))];
  const seen = new Set<string>();
  return found
    .filter((p) => !seen.has(key(p)) && (seen.add(key(p)), true))
    .map((p) => ({ path: rename(p.path), message: p.message }));
}

/** Replaces a leading `features[i]` / `segments[i]` by what `map` gives for it ("" for the root; unchanged when absent). */
export function renamer(map: { features?: Map<number, string>; segments?: Map<number, string> }): (path: string) => string {
  return (path) => {
    const m = /^(features|segments)\[(\d+)\](.*)$/s.exec(path);
    if (!m) return path;
    const to = map[m[1] as 'features' | 'segments']?.get(Number(m[2]));
    if (to === undefined) return path;
    const rest = m[3]!;
    return to === '' ? rest.replace(/^\./, '') : `${to}${rest}`;
  };
}
