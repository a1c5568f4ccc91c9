// Activation strategies compiled once: Unleash's built-in ones (default, userWithId,
// gradualRollout*, flexibleRollout, remoteAddress, applicationHostname) with their constraints
// and segments folded into one predicate. A strategy of an unknown name never matches.
import { allOf, compileConstraint, never, type Predicate } from './constraints.js';
import { contextValue } from './context.js';
import { inRange, parseIPv4, type Ip } from './ip.js';
import { bucket, STRATEGY_SEED } from './murmur.js';
import type { Context, Segment, Strategy } from './types.js';
import { compileVariants, type VariantSet } from './variants.js';

export type Rule = (context: Context) => boolean;

/** How a match decides the value, for OpenFeature's reason: always, by who it is, or by a bucket. */
export type StrategyKind = 'static' | 'targeting' | 'split';

export interface CompiledStrategy {
  test: Rule;
  kind: StrategyKind;
  /** Strategy variants, when it has any. */
  variants?: VariantSet;
}

export interface StrategyOptions {
  hostname?: string;
  random: () => number;
}

const LIST = /\s*,\s*/;

function param(parameters: Record<string, string | number> | null | undefined, key: string): string | undefined {
  const v = parameters?.[key];
  return v === undefined || v === null ? undefined : String(v);
}

function rollout(percentage: number, prefix: string, id: string): boolean {
  return percentage > 0 && bucket(prefix, id, 100, STRATEGY_SEED) <= percentage;
}

function idOf(v: unknown): string | undefined {
  return v === undefined || v === null || v === '' || v === 0 || v === false ? undefined : String(v);
}

function strategyRule(s: Strategy, options: StrategyOptions): { rule: Rule; kind: StrategyKind } {
  const p = s.parameters;
  const random = options.random;
  switch (s.name) {
    case 'default':
      return { rule: () => true, kind: 'static' };
    case 'userWithId': {
      const ids = param(p, 'userIds');
      const set = new Set(ids ? ids.split(LIST) : []);
      return { rule: (ctx) => typeof ctx.userId === 'string' && set.has(ctx.userId), kind: 'targeting' };
    }
    case 'gradualRolloutUserId':
    case 'gradualRolloutSessionId': {
      const percentage = Number(param(p, 'percentage'));
      const prefix = `${param(p, 'groupId') || ''}:`;
      const key = s.name === 'gradualRolloutUserId' ? 'userId' : 'sessionId';
      return {
        rule: (ctx) => { const id = idOf(ctx[key]); return id !== undefined && rollout(percentage, prefix, id); },
        kind: percentage >= 100 ? 'targeting' : 'split',
      };
    }
    case 'gradualRolloutRandom': {
      const percentage = Number(param(p, 'percentage'));
      return { rule: () => percentage >= Math.floor(random() * 100) + 1, kind: percentage >= 100 ? 'static' : 'split' };
    }
    case 'flexibleRollout': {
      const percentage = Number(param(p, 'rollout'));
      const groupId = param(p, 'groupId');
      const stickiness = param(p, 'stickiness') || 'default';
      const ownPrefix = groupId ? `${groupId}:` : undefined;
      const randomId = () => `${Math.round(random() * 10000) + 1}`;
      const id: (ctx: Context) => string | undefined =
        stickiness === 'default' ? (ctx) => idOf(ctx.userId) ?? idOf(ctx.sessionId) ?? randomId()
        : stickiness === 'random' ? randomId
        : (ctx) => contextValue(ctx, stickiness) || undefined;
      return {
        rule: (ctx) => {
          const value = id(ctx);
          if (value === undefined) return false;
          // Unleash's Node client falls back to the context's featureToggle field, not the flag's name.
          const prefix = ownPrefix ?? `${idOf(ctx.featureToggle) ?? ''}:`;
          return rollout(percentage, prefix, value);
        },
        kind: percentage >= 100 ? (stickiness === 'default' || stickiness === 'random' ? 'static' : 'targeting') : 'split',
      };
    }
    case 'remoteAddress': {
      const ips = param(p, 'IPs');
      if (!ips) return { rule: never, kind: 'targeting' };
      const exact = new Set<string>();
      const ranges: Ip[] = [];
      for (const range of ips.split(LIST)) {
        exact.add(range);
        const ip = parseIPv4(range);
        if (ip) ranges.push(ip);
      }
      return {
        rule: (ctx) => {
          const address = ctx.remoteAddress;
          if (typeof address === 'string' && exact.has(address)) return true;
          const ip = typeof address === 'string' ? parseIPv4(address) : undefined;
          if (!ip) return false;
          for (let i = 0; i < ranges.length; i++) {
            const r = ranges[i] as Ip;
            if (ip.prefix >= r.prefix && inRange(ip, r)) return true;
          }
          return false;
        },
        kind: 'targeting',
      };
    }
    case 'applicationHostname': {
      const names = param(p, 'hostNames');
      const host = options.hostname?.toLowerCase();
      const ok = !!names && host !== undefined && names.toLowerCase().split(LIST).includes(host);
      return { rule: () => ok, kind: 'targeting' };
    }
    default:
      return { rule: never, kind: 'targeting' };
  }
}

export function compileStrategy(
  s: Strategy,
  segments: ReadonlyMap<number, Segment>,
  options: StrategyOptions,
): CompiledStrategy {
  const { rule, kind } = strategyRule(s, options);
  const preds: Predicate[] = (s.constraints ?? []).map(compileConstraint);
  for (const id of s.segments ?? []) {
    const segment = segments.get(id);
    if (!segment) preds.push(never);
    else for (const c of segment.constraints ?? []) preds.push(compileConstraint(c));
  }
  const guard = allOf(preds);
  const test: Rule = guard ? (ctx) => guard(ctx) && rule(ctx) : rule;
  const targeted = preds.length > 0 && kind === 'static' ? 'targeting' : kind;
  const variants = s.variants && s.variants.length > 0
    ? compileVariants(s.variants, String(param(s.parameters, 'groupId')), s.variants[0]?.stickiness || param(s.parameters, 'stickiness'))
    : undefined;
  return variants ? { test, kind: targeted, variants } : { test, kind: targeted };
}
