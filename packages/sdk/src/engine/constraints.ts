// Constraints compiled once into predicates, with Unleash's semantics: values trimmed and empty
// ones dropped; a missing field fails every operator but NOT_IN; `inverted` negates the result
// of any known operator; an unknown operator (or a missing segment) never matches.
import { contextValue } from './context.js';
import { inRange, parseIPv4, parseIPv6, type Ip } from './ip.js';
import { compileRe2 } from './regex.js';
import { compareSemver, parseSemver } from './semver.js';
import type { Constraint, Context } from './types.js';

export type Predicate = (context: Context) => boolean;

export const never: Predicate = () => false;

/** The operators a constraint may use; anything else never matches. */
export const OPERATORS = new Set([
  'IN', 'NOT_IN', 'STR_CONTAINS', 'STR_STARTS_WITH', 'STR_ENDS_WITH',
  'NUM_EQ', 'NUM_GT', 'NUM_GTE', 'NUM_LT', 'NUM_LTE', 'DATE_AFTER', 'DATE_BEFORE',
  'SEMVER_EQ', 'SEMVER_GT', 'SEMVER_GTE', 'SEMVER_LT', 'SEMVER_LTE', 'REGEX', 'IN_CIDR',
]);

/** Unleash's cleaning of a value list: empty values dropped, the rest trimmed. */
export function cleanValues(values: readonly unknown[] | null | undefined): string[] {
  const out: string[] = [];
  for (const v of values ?? []) if (v) out.push(String(v).trim());
  return out;
}

/** A context semver must not start with "v" (Unleash's rule); a constraint's may. */
function contextSemver(text: string | undefined) {
  if (!text || text.startsWith('v')) return undefined;
  return parseSemver(text);
}

/** The context's currentTime in ms (as Unleash's new Date(currentTime) reads it), now when absent. */
function currentTime(context: Context): number {
  const t = context.currentTime;
  if (!t) return Date.now();
  return typeof t === 'string' ? Date.parse(t) : t instanceof Date ? t.getTime() : new Date(t as number).getTime();
}

/** The predicate before `inverted`, or undefined for an unknown operator. */
function base(c: Constraint): Predicate | undefined {
  const field = c.contextName;
  const op = c.operator as string;
  switch (op) {
    case 'IN':
    case 'NOT_IN': {
      const set = new Set(cleanValues(c.values));
      if (op === 'IN') return (ctx) => { const v = contextValue(ctx, field); return v !== undefined && set.has(v); };
      return (ctx) => { const v = contextValue(ctx, field); return v === undefined || !set.has(v); };
    }
    case 'STR_CONTAINS':
    case 'STR_STARTS_WITH':
    case 'STR_ENDS_WITH': {
      const fold = c.caseInsensitive === true;
      const values = cleanValues(c.values).map((v) => (fold ? v.toLocaleLowerCase() : v));
      const test =
        op === 'STR_CONTAINS' ? (s: string, v: string) => s.includes(v)
        : op === 'STR_STARTS_WITH' ? (s: string, v: string) => s.startsWith(v)
        : (s: string, v: string) => s.endsWith(v);
      return (ctx) => {
        let s = contextValue(ctx, field);
        if (s === undefined) return false;
        if (fold) s = s.toLocaleLowerCase();
        for (let i = 0; i < values.length; i++) if (test(s, values[i] as string)) return true;
        return false;
      };
    }
    case 'NUM_EQ':
    case 'NUM_GT':
    case 'NUM_GTE':
    case 'NUM_LT':
    case 'NUM_LTE': {
      const n = Number(c.value);
      if (Number.isNaN(n)) return never;
      const cmp =
        op === 'NUM_EQ' ? (x: number) => x === n
        : op === 'NUM_GT' ? (x: number) => x > n
        : op === 'NUM_GTE' ? (x: number) => x >= n
        : op === 'NUM_LT' ? (x: number) => x < n
        : (x: number) => x <= n;
      return (ctx) => cmp(Number(contextValue(ctx, field)));
    }
    case 'DATE_AFTER':
    case 'DATE_BEFORE': {
      // Unleash compares the context's currentTime (now when absent), whatever contextName says.
      const at = new Date(c.value as string).getTime();
      if (Number.isNaN(at)) return never;
      return op === 'DATE_AFTER' ? (ctx) => currentTime(ctx) > at : (ctx) => currentTime(ctx) < at;
    }
    case 'SEMVER_EQ':
    case 'SEMVER_GT':
    case 'SEMVER_GTE':
    case 'SEMVER_LT':
    case 'SEMVER_LTE': {
      const target = typeof c.value === 'string' ? parseSemver(c.value) : undefined;
      if (!target) return never;
      const ok =
        op === 'SEMVER_EQ' ? (r: number) => r === 0
        : op === 'SEMVER_GT' ? (r: number) => r > 0
        : op === 'SEMVER_GTE' ? (r: number) => r >= 0
        : op === 'SEMVER_LT' ? (r: number) => r < 0
        : (r: number) => r <= 0;
      return (ctx) => {
        const v = contextSemver(contextValue(ctx, field));
        return v !== undefined && ok(compareSemver(v, target));
      };
    }
    case 'REGEX': {
      const compiled = typeof c.value === 'string' ? compileRe2(c.value, c.caseInsensitive === true) : undefined;
      if (!compiled?.ok) return never;
      const re = compiled.regex;
      return (ctx) => { const v = contextValue(ctx, field); return v !== undefined && re.test(v); };
    }
    case 'IN_CIDR': {
      const v4: Ip[] = [];
      const v6: Ip[] = [];
      for (const value of cleanValues(c.values)) {
        const a = parseIPv4(value);
        if (a) v4.push(a);
        const b = parseIPv6(value);
        if (b) v6.push(b);
      }
      return (ctx) => {
        const v = contextValue(ctx, field);
        if (v === undefined) return false;
        const a = parseIPv4(v);
        const ranges = a ? v4 : v6;
        const address = a ?? parseIPv6(v);
        if (!address) return false;
        for (let i = 0; i < ranges.length; i++) if (inRange(address, ranges[i] as Ip)) return true;
        return false;
      };
    }
    default:
      return undefined;
  }
}

export function compileConstraint(c: Constraint | null | undefined): Predicate {
  if (!c) return never;
  const p = base(c);
  if (!p) return never;
  return c.inverted === true ? (ctx) => !p(ctx) : p;
}

/** All of the predicates; the empty list always holds. */
export function allOf(preds: Predicate[]): Predicate | undefined {
  if (preds.length === 0) return undefined;
  if (preds.length === 1) return preds[0];
  return (ctx) => {
    for (let i = 0; i < preds.length; i++) if (!(preds[i] as Predicate)(ctx)) return false;
    return true;
  };
}
