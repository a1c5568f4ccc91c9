/**
 * SDK usage: Unleash metrics buckets turned into counts per (flag, variant) for the store, and
 * the registered SDK instances (in memory, bounded: the newest per environment are kept).
 */
import type { Feature } from '@rollgate/sdk/engine';
import type { FlagUsage } from '../../store/flag-metrics-types.js';
import type { MetricsBody, RegisterBody } from './sdk-inputs.js';

/** The variant name Unleash SDKs count when no variant was given. */
const NO_VARIANT = 'disabled';

function variantNames(f: Feature): Set<string> {
  const out = new Set<string>([NO_VARIANT]);
  for (const v of f.variants ?? []) out.add(v.name);
  for (const s of f.strategies ?? []) for (const v of s.variants ?? []) out.add(v.name);
  return out;
}

/**
 * The counts of a bucket for flags this environment has; other names (a flag not here, a
 * variant the flag never had) are left out, so a client cannot grow the table with made-up names.
 */
export function usageOf(bucket: MetricsBody['bucket'], features: ReadonlyMap<string, Feature>): { usage: FlagUsage[]; unknown: string[] } {
  const usage: FlagUsage[] = [];
  const unknown: string[] = [];
  for (const [name, t] of Object.entries(bucket.toggles)) {
    const f = features.get(name);
    if (!f) {
      unknown.push(name);
      continue;
    }
    if (t.yes + t.no > 0) usage.push({ name, variant: null, yes: t.yes, no: t.no });
    const known = variantNames(f);
    for (const [variant, n] of Object.entries(t.variants ?? {})) if (n > 0 && known.has(variant)) usage.push({ name, variant, yes: n, no: 0 });
  }
  return { usage, unknown };
}

/** When a bucket was last seen evaluated: its stop time, never later than now. */
export function seenAt(stop: string | number, nowMs = Date.now()): string {
  const t = typeof stop === 'number' ? stop : Date.parse(stop);
  return new Date(Number.isFinite(t) ? Math.min(t, nowMs) : nowMs).toISOString();
}

export interface SdkInstance {
  appName: string;
  instanceId: string;
  sdkVersion: string | null;
  strategies: string[];
  started: string | null;
  /** Milliseconds between the SDK's metrics reports. */
  interval: number | null;
  address: string | null;
  registeredAt: string;
  lastSeenAt: string;
}

/** SDK instances per (app, env), the `perEnv` most recently seen of each. */
export class SdkInstances {
  private readonly byEnv = new Map<string, Map<string, SdkInstance>>();

  constructor(private readonly perEnv = 1000, private readonly maxEnvs = 1000) {}

  register(app: string, env: string, b: RegisterBody, address: string | null, at = new Date().toISOString()): SdkInstance {
    const m = this.envMap(app, env);
    const prior = m.get(b.instanceId);
    const rec: SdkInstance = {
      appName: b.appName,
      instanceId: b.instanceId,
      sdkVersion: b.sdkVersion ?? null,
      strategies: b.strategies ?? [],
      started: b.started === undefined ? null : String(b.started),
      interval: b.interval ?? null,
      address,
      registeredAt: prior?.registeredAt ?? at,
      lastSeenAt: at,
    };
    this.put(m, rec);
    return rec;
  }

  /** A metrics report: the instance was seen (registered if it never said so). */
  seen(app: string, env: string, appName: string, instanceId: string, address: string | null, at = new Date().toISOString()): void {
    const m = this.envMap(app, env);
    const prior = m.get(instanceId);
    this.put(m, prior ? { ...prior, lastSeenAt: at, address } : { appName, instanceId, sdkVersion: null, strategies: [], started: null, interval: null, address, registeredAt: at, lastSeenAt: at });
  }

  list(app: string, env: string): SdkInstance[] {
    return [...(this.byEnv.get(`${app}\u0000${env}`)?.values() ?? [])].reverse();
  }

  private envMap(app: string, env: string): Map<string, SdkInstance> {
    const k = `${app}\u0000${env}`;
    let m = this.byEnv.get(k);
    if (!m) {
      if (this.byEnv.size >= this.maxEnvs) this.byEnv.delete(this.byEnv.keys().next().value!);
      this.byEnv.set(k, (m = new Map()));
    }
    return m;
  }

  /** Map order is insertion order: re-inserting keeps the most recently seen last, the oldest first out. */
  private put(m: Map<string, SdkInstance>, rec: SdkInstance): void {
    m.delete(rec.instanceId);
    m.set(rec.instanceId, rec);
    if (m.size > this.perEnv) m.delete(m.keys().next().value!);
  }
}
