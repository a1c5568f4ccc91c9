/**
 * Injected faults (chaos experiments) per service and version, and the per-request decision the
 * router asks for. A fault makes the router answer `errorRate` of the version's requests with 503
 * and hold every request of the version `latencyMs` before handling it (a failing request is
 * slow too, as a timing-out dependency would be).
 *
 * Every fault carries its own deadline (`until`, epoch ms) and lapses by itself, so a control
 * plane that dies mid-experiment never leaves a fault on. Faults live in memory only: an agent
 * restart clears them.
 *
 * Hot path: `decide` is O(1) and allocates nothing; with no fault anywhere it is a single
 * counter check, without even reading the clock.
 */
import type { ServiceKey } from '../core/dataplane.js';

export interface Fault {
  /** Share of requests answered 503, 0..1. */
  errorRate: number;
  /** Added before each request of the version, ms. */
  latencyMs: number;
  /** Epoch ms after which the fault no longer applies. */
  until: number;
}

export interface FaultDecision {
  /** Answer with this status instead of forwarding; null: forward. */
  readonly failStatus: 503 | null;
  /** Hold the request this long first. */
  readonly delayMs: number;
}

export interface ActiveFault extends Fault {
  env: string;
  app: string;
  version: string;
}

/** A fault with its two possible decisions made once, so deciding allocates nothing. */
interface Entry {
  fault: Fault;
  fail: FaultDecision;
  /** Null when the fault adds no latency: a request that is not failed is then untouched. */
  pass: FaultDecision | null;
}

export class Faults {
  // env -> app -> version: nested maps so a lookup builds no key string.
  private readonly byEnv = new Map<string, Map<string, Map<string, Entry>>>();
  private count = 0;

  /** @param random uniform [0, 1) source; tests pass a seeded one. */
  constructor(
    private readonly random: () => number = Math.random,
    private readonly now: () => number = Date.now,
  ) {}

  /** Sets (or replaces) the fault of one version. */
  set(key: ServiceKey, version: string, fault: Fault): void {
    let apps = this.byEnv.get(key.env);
    if (!apps) this.byEnv.set(key.env, (apps = new Map()));
    let versions = apps.get(key.app);
    if (!versions) apps.set(key.app, (versions = new Map()));
    if (!versions.has(version)) this.count++;
    const f: Fault = { errorRate: fault.errorRate, latencyMs: fault.latencyMs, until: fault.until };
    versions.set(version, {
      fault: f,
      fail: Object.freeze({ failStatus: 503, delayMs: f.latencyMs }),
      pass: f.latencyMs > 0 ? Object.freeze({ failStatus: null, delayMs: f.latencyMs }) : null,
    });
  }

  /** Clears one version's fault, or every fault of the service. Returns how many were cleared. */
  clear(key: ServiceKey, version?: string): number {
    const versions = this.byEnv.get(key.env)?.get(key.app);
    if (!versions) return 0;
    let n = 0;
    if (version === undefined) {
      n = versions.size;
      versions.clear();
    } else if (versions.delete(version)) {
      n = 1;
    }
    this.count -= n;
    if (versions.size === 0) this.prune(key.env, key.app);
    return n;
  }

  /** `decide` as a plain function, for a router that is handed just the hot-path call. */
  readonly faultFor = (env: string, app: string, version: string): FaultDecision | null => this.decide(env, app, version);

  /**
   * What to do with one request to `version` of app × env: null (forward untouched), or a delay
   * and possibly a 503. Called by the router for every request.
   */
  decide(env: string, app: string, version: string): FaultDecision | null {
    if (this.count === 0) return null;
    const entry = this.byEnv.get(env)?.get(app)?.get(version);
    if (entry === undefined) return null;
    if (this.now() >= entry.fault.until) {
      this.clear({ env, app }, version);
      return null;
    }
    if (entry.fault.errorRate > 0 && this.random() < entry.fault.errorRate) return entry.fail;
    return entry.pass;
  }

  /** The faults in force now (expired ones are dropped on the way). */
  list(key?: ServiceKey): ActiveFault[] {
    const t = this.now();
    const out: ActiveFault[] = [];
    for (const [env, apps] of [...this.byEnv]) {
      if (key && env !== key.env) continue;
      for (const [app, versions] of [...apps]) {
        if (key && app !== key.app) continue;
        for (const [version, e] of [...versions]) {
          if (t >= e.fault.until) this.clear({ env, app }, version);
          else out.push({ env, app, version, ...e.fault });
        }
      }
    }
    return out;
  }

  /** How many faults are set (expired ones may count until next looked at). */
  size(): number {
    return this.count;
  }

  private prune(env: string, app: string): void {
    const apps = this.byEnv.get(env);
    if (!apps) return;
    apps.delete(app);
    if (apps.size === 0) this.byEnv.delete(env);
  }
}
