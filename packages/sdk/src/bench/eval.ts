/**
 * bench:flags-eval — in-process flag evaluations per second: Rollgate's engine against
 * unleash-client (isEnabled / getVariant after bootstrap) and @openfeature/flagd-core (its
 * in-process evaluator, the same flags in flagd's format), on (i) a simple set and (ii) a
 * targeting-heavy set (sets in flag-sets.ts), the same contexts for all three. Each engine is
 * warmed up, then measured in interleaved rounds; the median round is kept. Writes
 * bench/results/flags-eval.json.
 *
 * Env: BENCH_CONTEXTS (default 1000), BENCH_ROUNDS (default 7), BENCH_ROUND_MS (default 400).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, platform, release } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { FlagdCore } from '@openfeature/flagd-core';
import { compile } from '../engine/evaluator.js';
import { referenceFor } from '../engine/unleash-reference.testkit.js';
import { ruleProblems } from '../engine/validate.js';
import { contexts, simpleSet, targetingSet, type BenchContext, type FlagSet } from './flag-sets.js';

export interface EvalRates {
  rollgate: number;
  unleashClient: number;
  flagdCore: number;
}

export interface FlagsEvalResult {
  simple: EvalRates;
  targeting: EvalRates;
}

export interface FlagsEvalOptions {
  contexts?: number;
  rounds?: number;
  roundMs?: number;
}

/** One pass: every flag for every context; returns a checksum so no work can be skipped. */
type Pass = () => number;

interface Runner {
  pass: Pass;
  /** The answers, for comparing engines: booleans or variant names. */
  answers: () => (boolean | string)[];
}

async function runners(set: FlagSet, ctxs: BenchContext[]): Promise<{ runners: Record<keyof EvalRates, Runner>; close: () => void }> {
  const problems = ruleProblems(set.unleash);
  if (problems.length > 0) throw new Error(`bench flag set has rule problems: ${JSON.stringify(problems)}`);
  const engine = compile(set.unleash);
  const unleash = await referenceFor(set.unleash);
  const flagd = new FlagdCore();
  flagd.setConfigurations(JSON.stringify(set.flagd));
  const names = set.names;
  const u = ctxs.map((c) => c.unleash);
  const f = ctxs.map((c) => c.flagd);

  const make = (one: (name: string, i: number) => boolean | string): Runner => ({
    pass: () => {
      let sum = 0;
      for (let i = 0; i < u.length; i++) {
        for (let k = 0; k < names.length; k++) {
          const r = one(names[k] as string, i);
          sum += r === true ? 1 : typeof r === 'string' ? r.length : 0;
        }
      }
      return sum;
    },
    answers: () => u.flatMap((_, i) => names.map((n) => one(n, i))),
  });

  const result = set.variants
    ? {
        rollgate: make((n, i) => engine.getVariant(n, u[i]).name),
        unleashClient: make((n, i) => unleash.getVariant(n, u[i] as never).name),
        flagdCore: make((n, i) => flagd.resolveStringEvaluation(n, 'disabled', f[i]).value),
      }
    : {
        rollgate: make((n, i) => engine.isEnabled(n, u[i])),
        unleashClient: make((n, i) => unleash.isEnabled(n, u[i] as never)),
        flagdCore: make((n, i) => flagd.resolveBooleanEvaluation(n, false, f[i]).value),
      };
  return { runners: result, close: () => unleash.destroy() };
}

/** Evaluations per second over passes lasting at least ms. */
function measure(runner: Runner, evalsPerPass: number, ms: number): number {
  let passes = 0;
  let sink = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  do {
    sink += runner.pass();
    passes++;
    elapsed = Number(process.hrtime.bigint() - start) / 1e6;
  } while (elapsed < ms);
  if (sink < 0) console.log(sink); // keeps the work observable
  return (passes * evalsPerPass) / (elapsed / 1000);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

export interface SetReport {
  rates: EvalRates;
  rounds: Record<keyof EvalRates, number[]>;
  /** How many evaluations Rollgate and unleash-client were compared on, and how many differed. */
  agreement: { compared: number; differing: number };
}

async function benchSet(set: FlagSet, ctxs: BenchContext[], rounds: number, roundMs: number): Promise<SetReport> {
  const { runners: r, close } = await runners(set, ctxs);
  try {
    const mine = r.rollgate.answers();
    const theirs = r.unleashClient.answers();
    const differing = mine.filter((a, i) => a !== theirs[i]).length;
    const evalsPerPass = ctxs.length * set.names.length;
    const keys = Object.keys(r) as (keyof EvalRates)[];
    for (const k of keys) measure(r[k], evalsPerPass, roundMs); // warm-up
    const samples: Record<keyof EvalRates, number[]> = { rollgate: [], unleashClient: [], flagdCore: [] };
    for (let round = 0; round < rounds; round++) {
      for (const k of keys) samples[k].push(measure(r[k], evalsPerPass, roundMs));
    }
    const rates = { rollgate: median(samples.rollgate), unleashClient: median(samples.unleashClient), flagdCore: median(samples.flagdCore) };
    return { rates, rounds: samples, agreement: { compared: mine.length, differing } };
  } finally {
    close();
  }
}

export async function benchFlagsEvalDetailed(options: FlagsEvalOptions = {}): Promise<{ simple: SetReport; targeting: SetReport }> {
  const ctxs = contexts(options.contexts ?? 1000);
  const rounds = options.rounds ?? 7;
  const roundMs = options.roundMs ?? 400;
  const simple = await benchSet(simpleSet(), ctxs, rounds, roundMs);
  const targeting = await benchSet(targetingSet(), ctxs, rounds, roundMs);
  return { simple, targeting };
}

/** Evaluations per second for each engine on each set (medians of the rounds). */
export async function benchFlagsEval(options: FlagsEvalOptions = {}): Promise<FlagsEvalResult> {
  const { simple, targeting } = await benchFlagsEvalDetailed(options);
  return { simple: simple.rates, targeting: targeting.rates };
}

async function main(): Promise<void> {
  const options: FlagsEvalOptions = {
    contexts: Number(process.env.BENCH_CONTEXTS ?? 1000),
    rounds: Number(process.env.BENCH_ROUNDS ?? 7),
    roundMs: Number(process.env.BENCH_ROUND_MS ?? 400),
  };
  const detail = await benchFlagsEvalDetailed(options);
  const round = (n: number) => Math.round(n);
  const ratio = (r: EvalRates) => ({ toUnleashClient: Math.round((r.rollgate / r.unleashClient) * 100) / 100, toFlagdCore: Math.round((r.rollgate / r.flagdCore) * 100) / 100 });
  const rates = (r: EvalRates) => ({ rollgate: round(r.rollgate), unleashClient: round(r.unleashClient), flagdCore: round(r.flagdCore) });
  const c = cpus();
  const out = {
    bench: 'flags-eval',
    at: new Date().toISOString(),
    machine: { cores: c.length, cpu: c[0]?.model.trim() ?? 'unknown', node: process.version, os: `${platform()} ${release()}`, loadavg1m: Math.round((loadavg()[0] ?? 0) * 100) / 100 },
    unit: 'evaluations per second (median round)',
    contexts: options.contexts,
    rounds: options.rounds,
    roundMs: options.roundMs,
    simple: rates(detail.simple.rates),
    targeting: rates(detail.targeting.rates),
    ratios: { simple: ratio(detail.simple.rates), targeting: ratio(detail.targeting.rates) },
    agreementWithUnleashClient: { simple: detail.simple.agreement, targeting: detail.targeting.agreement },
    sets: {
      simple: '50 boolean flags: 25 default, 25 flexibleRollout 50% on userId (flagd: fractional); isEnabled',
      targeting: '50 flags, one strategy each: 10 constraints (IN 100 values, NOT_IN 100 values, 2 semver, 2 number, date, regex, ends-with, starts-with) + a 2-constraint segment, 3 weighted variants on userId (flagd: JSON Logic, $ref, fractional; regex as starts_with+ends_with); getVariant',
    },
  };
  const dir = fileURLToPath(new URL('../../../../bench/results/', import.meta.url));
  await mkdir(dir, { recursive: true });
  await writeFile(`${dir}flags-eval.json`, JSON.stringify(out, null, 2) + '\n');
  for (const set of ['simple', 'targeting'] as const) {
    const r = out[set];
    console.log(`${set.padEnd(9)}  rollgate ${r.rollgate.toLocaleString('en')}/s  unleash-client ${r.unleashClient.toLocaleString('en')}/s  flagd-core ${r.flagdCore.toLocaleString('en')}/s  (${out.ratios[set].toUnleashClient}x unleash-client)`);
  }
  console.log(`wrote ${dir}flags-eval.json`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
