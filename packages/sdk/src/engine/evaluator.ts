// A state compiled once into an evaluator with Unleash's isEnabled and getVariant, and a bulk
// evaluation with OpenFeature reasons for the server's OFREP endpoint. Pure: no I/O.
import { compileStrategy, type CompiledStrategy, type StrategyOptions } from './strategies.js';
import type { ClientFeatures, Context, Dependency, Feature, Segment, VariantResult } from './types.js';
import { compileVariants, isOverride, selectVariant, type VariantSet } from './variants.js';

/**
 * OpenFeature's reasons, as the bulk evaluation gives them:
 * - DISABLED: the flag is switched off (enabled false, or its strategies are malformed).
 * - DEFAULT: the flag is on but gave false for this context: no strategy matched, or a
 *   dependency on a parent flag is not met.
 * - STATIC: on for everyone: no strategies, or a matching strategy with no constraints or
 *   segments that lets everyone in (default, 100% rollout on default or random stickiness).
 * - TARGETING_MATCH: on because of who the context is: a matching strategy with constraints or
 *   segments, a list of users, addresses or hosts, or a variant chosen by an override.
 * - SPLIT: on or given its variant by a bucket: a partial rollout, or a variant picked by weight
 *   among two or more.
 */
export type Reason = 'STATIC' | 'TARGETING_MATCH' | 'SPLIT' | 'DISABLED' | 'DEFAULT';

export interface FlagEvaluation {
  name: string;
  /** isEnabled's answer. */
  value: boolean;
  /** getVariant's answer. */
  variant: VariantResult;
  reason: Reason;
}

export interface EvaluatorOptions {
  /** This process's host name, for the applicationHostname strategy (none: it never matches). */
  hostname?: string;
  /** Random numbers in [0, 1) for random stickiness; Math.random by default. */
  random?: () => number;
}

interface CompiledFeature {
  /** The rules it was compiled from (recompile reuses it while they are the same object). */
  source: Feature;
  name: string;
  enabled: boolean;
  /** Undefined when strategies is not a list: Unleash then treats the flag as off. */
  strategies: CompiledStrategy[] | undefined;
  variants: VariantSet | undefined;
  dependencies: Dependency[] | undefined;
}

const DISABLED_OFF: VariantResult = Object.freeze({ name: 'disabled', enabled: false, feature_enabled: false });
const DISABLED_ON: VariantResult = Object.freeze({ name: 'disabled', enabled: false, feature_enabled: true });

/** What matching a flag's strategies gave: -2 off, -1 on with no strategy list entry, else an index. */
const OFF = -2;
const ALWAYS = -1;

/** The compiled flags the evaluator being built may take over (set by recompile for its one construction). */
let reusing: ReadonlyMap<string, CompiledFeature> | undefined;

export class Evaluator {
  private readonly features = new Map<string, CompiledFeature>();
  private readonly random: () => number;
  private readonly options: EvaluatorOptions;
  private readonly segments = new Map<number, Segment>();

  constructor(state: ClientFeatures, options: EvaluatorOptions = {}) {
    const reuse = reusing;
    reusing = undefined;
    this.options = options;
    this.random = options.random ?? Math.random;
    const strategyOptions: StrategyOptions = { random: this.random };
    if (options.hostname !== undefined) strategyOptions.hostname = options.hostname;
    for (const s of state.segments ?? []) this.segments.set(s.id, s);
    for (const f of state.features ?? []) {
      const was = reuse?.get(f.name);
      this.features.set(f.name, was && was.source === f ? was : compileFeature(f, this.segments, strategyOptions));
    }
  }

  /** The flags' names, in the state's order. */
  names(): string[] {
    return [...this.features.keys()];
  }

  has(name: string): boolean {
    return this.features.has(name);
  }

  isEnabled(name: string, context: Context = {}): boolean {
    const f = this.features.get(name);
    return f !== undefined && this.match(f, context) !== OFF;
  }

  /** Unleash's getVariant; the result is frozen and shared. */
  getVariant(name: string, context: Context = {}): VariantResult {
    const f = this.features.get(name);
    if (!f) return DISABLED_OFF;
    return this.variantOf(f, context, this.match(f, context));
  }

  /** A flag's value, variant and reason; undefined for a flag not in the state. */
  evaluate(name: string, context: Context = {}): FlagEvaluation | undefined {
    const f = this.features.get(name);
    return f && this.evaluateFeature(f, context);
  }

  /** Every flag's evaluation for one context, in the state's order. */
  evaluateAll(context: Context = {}): FlagEvaluation[] {
    const out: FlagEvaluation[] = [];
    for (const f of this.features.values()) out.push(this.evaluateFeature(f, context));
    return out;
  }

  private evaluateFeature(f: CompiledFeature, context: Context): FlagEvaluation {
    const at = this.match(f, context);
    const variant = this.variantOf(f, context, at);
    const value = at !== OFF;
    return { name: f.name, value, variant, reason: reasonOf(f, context, at, variant) };
  }

  private match(f: CompiledFeature, context: Context): number {
    if (f.dependencies && !this.dependenciesMet(f.dependencies, context)) return OFF;
    if (!f.enabled || !f.strategies) return OFF;
    const strategies = f.strategies;
    if (strategies.length === 0) return ALWAYS;
    for (let i = 0; i < strategies.length; i++) {
      if ((strategies[i] as CompiledStrategy).test(context)) return i;
    }
    return OFF;
  }

  private variantOf(f: CompiledFeature, context: Context, at: number): VariantResult {
    if (at === OFF) return DISABLED_OFF;
    const own = at >= 0 ? (f.strategies as CompiledStrategy[])[at]?.variants : undefined;
    if (own) {
      const i = selectVariant(own, context, this.random);
      if (i >= 0) return own.results[i] as VariantResult;
    }
    if (!f.variants) return DISABLED_ON;
    const i = selectVariant(f.variants, context, this.random);
    return i >= 0 ? (f.variants.results[i] as VariantResult) : DISABLED_ON;
  }

  /** Unleash's rule: every parent exists, has no parents itself, and is (or is not) as required. */
  private dependenciesMet(dependencies: Dependency[], context: Context): boolean {
    for (const d of dependencies) {
      const parent = this.features.get(d.feature);
      if (!parent || parent.dependencies) return false;
      const at = this.match(parent, context);
      if (d.enabled === false) {
        if (at !== OFF) return false;
      } else if (d.variants && d.variants.length > 0) {
        if (at === OFF || !d.variants.includes(this.variantOf(parent, context, at).name)) return false;
      } else if (at === OFF) {
        return false;
      }
    }
    return true;
  }
}

function compileFeature(f: Feature, segments: Map<number, Segment>, options: StrategyOptions): CompiledFeature {
  const strategies = Array.isArray(f.strategies)
    ? f.strategies.filter((s) => s.disabled !== true).map((s) => compileStrategy(s, segments, options))
    : undefined;
  const variants = Array.isArray(f.variants) && f.variants.length > 0
    ? compileVariants(f.variants, f.name, f.variants[0]?.stickiness ?? undefined)
    : undefined;
  const dependencies = Array.isArray(f.dependencies) && f.dependencies.length > 0 ? f.dependencies : undefined;
  return { source: f, name: f.name, enabled: f.enabled === true, strategies, variants, dependencies };
}

function reasonOf(f: CompiledFeature, context: Context, at: number, variant: VariantResult): FlagEvaluation['reason'] {
  if (at === OFF) return !f.enabled || !f.strategies ? 'DISABLED' : 'DEFAULT';
  const strategy = at >= 0 ? f.strategies?.[at] : undefined;
  let reason: FlagEvaluation['reason'] = strategy ? (strategy.kind === 'static' ? 'STATIC' : strategy.kind === 'split' ? 'SPLIT' : 'TARGETING_MATCH') : 'STATIC';
  if (reason === 'SPLIT' || !variant.enabled) return reason;
  // The variant came from the strategy's own set when that set holds it, else from the flag's.
  const set = strategy?.variants && strategy.variants.results.includes(variant) ? strategy.variants : f.variants;
  if (!set) return reason;
  const index = set.results.indexOf(variant);
  if (isOverride(set, context, index)) reason = 'TARGETING_MATCH';
  else if (set.split) reason = 'SPLIT';
  return reason;
}

export function compile(state: ClientFeatures, options?: EvaluatorOptions): Evaluator {
  return new Evaluator(state, options);
}

/**
 * The evaluator of a later state of `prev`'s, with prev's options: a flag whose rules are the
 * very object prev compiled is not compiled again (a delta replaces only the flags it names, so
 * a client following a stream compiles one flag per change, not all). When any segment changed,
 * everything is compiled: segments are folded into the strategies. Internal to the SDK.
 */
export function recompile(prev: Evaluator, state: ClientFeatures): Evaluator {
  const was = prev['segments'];
  const same = (state.segments ?? []).length === was.size && (state.segments ?? []).every((s) => was.get(s.id) === s);
  reusing = same ? prev['features'] : undefined;
  return new Evaluator(state, prev['options']);
}
