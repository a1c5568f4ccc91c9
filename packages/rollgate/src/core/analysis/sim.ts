/**
 * Seeded traffic simulator for the judge's tests (not used in production): per-tick request,
 * error and latency-bucket counts of a canary and a stable behind the router.
 *
 * Model per tick (250 ms by default): a shared load factor moves the request rate and the
 * latency median of both versions together (realistic noise: the two see the same
 * conditions); arrivals are Poisson, so per-bucket counts are independent Poisson draws with
 * the lognormal's bucket probabilities (the same as drawing every latency and binning it);
 * errors are Binomial among the tick's requests with a background rate that also drifts.
 */
import { normalSf } from './math.js';
import type { VersionMetrics } from '../dataplane.js';
import type { Buckets, Counts } from './types.js';

/** The router's bucket bounds (src/agent/metrics.ts); a test checks they stay equal. */
export const LATENCY_BOUNDS: readonly number[] = Object.freeze([1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000]);

export type Rng = () => number;

/** sfc32: small, fast, good enough for simulation; deterministic per seed. */
export function rng(seed: number): Rng {
  let a = 0x9e3779b9 ^ seed;
  let b = 0x243f6a88 ^ (seed * 31);
  let c = 0xb7e15162 ^ (seed * 17);
  let d = 1 ^ seed;
  const next = () => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 12; i++) next();
  return next;
}

export function normal(r: Rng): number {
  let u = r();
  while (u <= 0) u = r();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}

/** Poisson draw: exact (inversion) below mean 30, rounded normal above (fine for these tests). */
export function poisson(r: Rng, mean: number): number {
  if (!(mean > 0)) return 0;
  if (mean >= 30) return Math.max(0, Math.round(mean + Math.sqrt(mean) * normal(r)));
  let k = 0;
  let p = Math.exp(-mean);
  let cdf = p;
  const u = r();
  while (u > cdf && k < 1000) {
    k++;
    p *= mean / k;
    cdf += p;
  }
  return k;
}

/** Binomial draw: exact (geometric skips) when n p < 30, rounded normal otherwise. */
export function binomial(r: Rng, n: number, p: number): number {
  if (n <= 0 || p <= 0) return 0;
  if (p >= 1) return n;
  if (n * p >= 30 && n * (1 - p) >= 30) return Math.min(n, Math.max(0, Math.round(n * p + Math.sqrt(n * p * (1 - p)) * normal(r))));
  if (p > 0.5) return n - binomial(r, n, 1 - p);
  const lq = Math.log1p(-p);
  if (!(lq < 0)) return 0; // p below double precision: no successes
  let k = 0;
  let i = 0;
  for (;;) {
    let u = r();
    while (u <= 0) u = r();
    i += Math.floor(Math.log(u) / lq) + 1;
    if (i > n) return k;
    k++;
  }
}

export interface Side {
  counts: Counts;
  buckets: Buckets;
}

export interface SimTick {
  canary: Side;
  stable: Side | null;
}

export interface Scenario {
  ticks: number;
  tickSeconds: number;
  totalRps: number;
  /** Canary share of traffic at each tick (0..1). */
  canaryShare: (tick: number) => number;
  /** No stable version (first deploy): all traffic to the canary at `canaryShare` of totalRps. */
  noStable: boolean;
  /** Background error rate of both versions. */
  errorRate: number;
  /** Extra failure probability of canary requests (errors scenario: 0.1). */
  canaryExtraErrors: number;
  medianMs: number;
  sigma: number;
  /** Added to every canary request's latency (latency scenario: 200). */
  canaryShiftMs: number;
  /** sd of the log of the shared per-tick load factor (moves rate and latency of both). */
  loadNoise: number;
  /** sd of the log of the shared per-tick background error factor. */
  errorNoise: number;
}

export const BASE_SCENARIO: Readonly<Scenario> = Object.freeze({
  ticks: 240,
  tickSeconds: 0.25,
  totalRps: 1000,
  canaryShare: () => 0.1,
  noStable: false,
  errorRate: 0.005,
  canaryExtraErrors: 0,
  medianMs: 4,
  sigma: 0.5,
  canaryShiftMs: 0,
  loadNoise: 0.2,
  errorNoise: 0.3,
});

/** P(bucket i) for a shifted lognormal latency: shift + exp(N(ln median, sigma^2)). */
export function bucketProbs(bounds: readonly number[], medianMs: number, sigma: number, shiftMs: number): number[] {
  const cdf = (x: number) => (x <= shiftMs ? 0 : 1 - normalSf((Math.log(x - shiftMs) - Math.log(medianMs)) / sigma));
  const out: number[] = [];
  let prev = 0;
  for (const b of bounds) {
    const c = cdf(b);
    out.push(Math.max(0, c - prev));
    prev = c;
  }
  out.push(Math.max(0, 1 - prev));
  return out;
}

function side(r: Rng, expected: number, errorP: number, probs: readonly number[]): Side {
  const counts = probs.map((p) => poisson(r, expected * p));
  let n = 0;
  for (const c of counts) n += c;
  return { counts: { requests: n, errors: binomial(r, n, errorP) }, buckets: { boundsMs: LATENCY_BOUNDS, counts } };
}

export function* simulate(sc: Scenario, seed: number): Generator<SimTick> {
  const r = rng(seed);
  for (let t = 0; t < sc.ticks; t++) {
    const load = Math.exp(sc.loadNoise * normal(r));
    const errFactor = Math.exp(sc.errorNoise * normal(r) - (sc.errorNoise * sc.errorNoise) / 2);
    const p = Math.min(0.5, sc.errorRate * errFactor);
    const share = sc.canaryShare(t);
    const perTick = sc.totalRps * sc.tickSeconds * load;
    const median = sc.medianMs * load;
    const pc = 1 - (1 - p) * (1 - sc.canaryExtraErrors);
    const canary = side(r, perTick * share, pc, bucketProbs(LATENCY_BOUNDS, median, sc.sigma, sc.canaryShiftMs));
    const stable = sc.noStable ? null : side(r, perTick * (1 - share), p, bucketProbs(LATENCY_BOUNDS, median, sc.sigma, 0));
    yield { canary, stable };
  }
}

/** Accumulates sim ticks into router-style monotonic snapshots (to drive lookBuiltin). */
export class Accumulator {
  private requests = 0;
  private errors = 0;
  private readonly buckets = new Array<number>(LATENCY_BOUNDS.length + 1).fill(0);

  add(s: Side): this {
    this.requests += s.counts.requests;
    this.errors += s.counts.errors;
    s.buckets.counts.forEach((c, i) => (this.buckets[i]! += c));
    return this;
  }

  snapshot(): VersionMetrics {
    let acc = 0;
    const counts = this.buckets.map((c) => (acc += c));
    return {
      requests: this.requests,
      byClass: { '2xx': this.requests - this.errors, '3xx': 0, '4xx': 0, '5xx': this.errors },
      upstreamErrors: 0,
      cutShort: 0,
      retries: 0,
      latency: { boundsMs: [...LATENCY_BOUNDS], counts, sumMs: 0, count: this.requests },
    };
  }
}
