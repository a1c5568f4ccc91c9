/**
 * Latency warm-up per instance. A fresh process answers its first requests slowly (JIT,
 * caches, connection pools), so its latency is not the release's latency. Whatever brought
 * traffic to an instance (a canary weight, `promote --full` scaling the canary up, a rolling
 * replacement, a restart), what it answered before it had been ready for `warmupMs` is left
 * out of the latency test, on both sides: a restarted stable instance warms up too.
 *
 * The rule uses times and counts only (never latency values), so leaving samples out keeps the
 * test's guarantee. An instance's increment between two looks counts only when, at the earlier
 * look, the instance had been ready for `warmupMs` and had answered WARMUP_REQUESTS requests
 * already (the JIT optimises by calls, not by time: a canary at 10% of a quiet service gets few
 * in its first seconds), under the same readiness (a restart in between makes a new `readyAt`),
 * and its counters did not go down (router restarted).
 * Error rate is not affected: it is judged from the first request.
 */
import type { LatencyHistogram } from '../dataplane.js';
import { bucketsOf, sameBounds, total } from './histogram.js';
import type { Buckets } from './types.js';

export interface InstanceSample {
  id: string;
  /** When it became ready (agent clock, ms since the epoch); null while not ready. */
  readyAtMs: number | null;
  /** Its own cumulative latency histogram (monotonic while the router knows it). */
  latency: LatencyHistogram;
}

/** One look's per-instance latency: the agent's time of the report and each side's instances. */
export interface InstancesSnapshot {
  atMs: number;
  canary: InstanceSample[];
  /** Empty when there is no stable version to compare with. */
  stable: InstanceSample[];
}

export interface WarmIncrement {
  /** Per-bucket counts of this tick from warm instances only. */
  buckets: Buckets;
  /** Requests of this tick left out because their instance was warming up (or restarted). */
  excluded: number;
  /** Instances still warming up at the later look. */
  warming: number;
}

/** Requests an instance answers before its latency counts (on top of the time). */
export const WARMUP_REQUESTS = 100;

export function isWarm(readyAtMs: number | null, atMs: number, warmupMs: number): boolean {
  return readyAtMs !== null && readyAtMs + warmupMs <= atMs;
}

/** The latency increment of one side's warm instances between two looks. */
export function warmIncrement(prev: { atMs: number; instances: readonly InstanceSample[] }, cur: { atMs: number; instances: readonly InstanceSample[] }, warmupMs: number, boundsMs: readonly number[]): WarmIncrement {
  const counts = new Array<number>(boundsMs.length + 1).fill(0);
  let excluded = 0;
  let warming = 0;
  const before = new Map(prev.instances.map((i) => [i.id, i]));
  for (const inst of cur.instances) {
    if (!isWarm(inst.readyAtMs, cur.atMs, warmupMs) || inst.latency.count < WARMUP_REQUESTS) warming++;
    const now = bucketsOf(inst.latency);
    const p = before.get(inst.id);
    const then = p ? bucketsOf(p.latency) : null;
    const usable = now.counts.length === counts.length && sameBounds(now.boundsMs, boundsMs);
    const diff = then && usable && sameBounds(then.boundsMs, boundsMs) && then.counts.length === counts.length ? now.counts.map((c, i) => c - (then.counts[i] ?? 0)) : null;
    if (!p || diff === null || diff.some((d) => d < 0)) {
      excluded += total(now.counts);
      continue;
    }
    if (p.readyAtMs !== inst.readyAtMs || !isWarm(p.readyAtMs, prev.atMs, warmupMs) || p.latency.count < WARMUP_REQUESTS) {
      excluded += total(diff);
      continue;
    }
    for (let i = 0; i < counts.length; i++) counts[i]! += diff[i] ?? 0;
  }
  return { buckets: { boundsMs: [...boundsMs], counts }, excluded, warming };
}
