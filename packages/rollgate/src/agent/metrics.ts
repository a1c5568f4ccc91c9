/**
 * Per-version request counters of the router. Updated on the hot path, so plain numeric
 * fields and a typed array: no allocation per request. Read (snapshot) by the control plane.
 *
 * What is counted, once per client request, under the version that finally answered it:
 * - `requests` and `byClass`: the status the client got, router-made errors included
 *   (a 502 after an unreachable upstream is a `5xx`).
 * - `upstreamErrors`: requests that ended without a complete upstream response
 *   (connection refused/reset, timeout, response cut short).
 * - `retries`: counted under the version whose backend failed and made the router retry
 *   elsewhere (a crashing canary shows up here even when users saw no error).
 * Requests abandoned by the client before an answer are not counted.
 */
import type { FlagMetrics, LatencyHistogram, VersionMetrics } from '../core/dataplane.js';
import { FlagCounters } from './flag-metrics.js';

/** Latency bucket upper bounds (ms); the histogram has one more bucket for +Inf. */
export const LATENCY_BOUNDS_MS: readonly number[] = Object.freeze([1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000]);

/**
 * Latency of one instance (backend) alone, beside its version's counters: the judge leaves out
 * what an instance answered in its first moments after it became ready (see core/analysis/warmup.ts).
 */
export class InstanceLatency {
  sumMs = 0;
  count = 0;
  readonly buckets = new Float64Array(LATENCY_BOUNDS_MS.length + 1);

  observe(ms: number): void {
    this.count++;
    this.sumMs += ms;
    const b = LATENCY_BOUNDS_MS;
    let i = 0;
    while (i < b.length && ms > (b[i] as number)) i++;
    this.buckets[i]!++;
  }

  snapshot(): LatencyHistogram {
    return { boundsMs: [...LATENCY_BOUNDS_MS], counts: cumulative(this.buckets), sumMs: this.sumMs, count: this.count };
  }
}

function cumulative(buckets: Float64Array): number[] {
  const counts: number[] = [];
  let acc = 0;
  for (let i = 0; i < buckets.length; i++) {
    acc += buckets[i] as number;
    counts.push(acc);
  }
  return counts;
}

export class VersionCounters {
  requests = 0;
  c1 = 0;
  c2 = 0;
  c3 = 0;
  c4 = 0;
  c5 = 0;
  upstreamErrors = 0;
  /** Responses cut off after their head was sent (the client saw a broken 2xx/3xx/4xx). */
  cutShort = 0;
  retries = 0;
  sumMs = 0;
  /** Non-cumulative bucket counts; index LATENCY_BOUNDS_MS.length is +Inf. */
  readonly buckets = new Float64Array(LATENCY_BOUNDS_MS.length + 1);

  observe(status: number, ms: number): void {
    this.requests++;
    if (status >= 500) this.c5++;
    else if (status >= 400) this.c4++;
    else if (status >= 300) this.c3++;
    else if (status >= 200) this.c2++;
    else this.c1++;
    this.sumMs += ms;
    const b = LATENCY_BOUNDS_MS;
    let i = 0;
    while (i < b.length && ms > (b[i] as number)) i++;
    this.buckets[i]!++;
  }

  snapshot(): VersionMetrics {
    const byClass: Record<string, number> = { '2xx': this.c2, '3xx': this.c3, '4xx': this.c4, '5xx': this.c5 };
    // Only WebSocket upgrades (101) land here; keep the usual four classes uncluttered otherwise.
    if (this.c1 > 0) byClass['1xx'] = this.c1;
    const counts = cumulative(this.buckets);
    return {
      requests: this.requests,
      byClass,
      upstreamErrors: this.upstreamErrors,
      cutShort: this.cutShort,
      retries: this.retries,
      latency: { boundsMs: [...LATENCY_BOUNDS_MS], counts, sumMs: this.sumMs, count: this.requests },
    };
  }
}

/** Counters of every service, kept across table swaps (monotonic while the service exists). */
interface ServiceCounters {
  env: string;
  app: string;
  versions: Map<string, VersionCounters>;
  flags: FlagCounters;
}

export class MetricsRegistry {
  private readonly services = new Map<string, ServiceCounters>();

  private service(env: string, app: string): ServiceCounters {
    const key = serviceKey(env, app);
    let svc = this.services.get(key);
    if (!svc) {
      svc = { env, app, versions: new Map(), flags: new FlagCounters() };
      this.services.set(key, svc);
    }
    return svc;
  }

  /** The service's per-(flag, variant) counters, kept across table swaps like the versions'. */
  flags(env: string, app: string): FlagCounters {
    return this.service(env, app).flags;
  }

  flagSnapshot(env: string, app: string): FlagMetrics | undefined {
    return this.services.get(serviceKey(env, app))?.flags.snapshot();
  }

  counters(env: string, app: string, version: string): VersionCounters {
    const svc = this.service(env, app);
    let c = svc.versions.get(version);
    if (!c) {
      c = new VersionCounters();
      svc.versions.set(version, c);
    }
    return c;
  }

  snapshot(env: string, app: string): Record<string, VersionMetrics> {
    const out: Record<string, VersionMetrics> = {};
    const svc = this.services.get(serviceKey(env, app));
    if (svc) for (const [v, c] of svc.versions) out[v] = c.snapshot();
    return out;
  }

  remove(env: string, app: string): void {
    this.services.delete(serviceKey(env, app));
  }

  *entries(): Iterable<{ env: string; app: string; version: string; counters: VersionCounters }> {
    for (const svc of this.services.values()) {
      for (const [version, counters] of svc.versions) yield { env: svc.env, app: svc.app, version, counters };
    }
  }
}

export function serviceKey(env: string, app: string): string {
  return `${env}\u0000${app}`;
}
