/**
 * The flag guard loop: every `lookMs` (default 250 ms, the canary analysis' pace) each guarded
 * rollout in progress is judged by core/flag-guard.ts (the built-in sequential analysis that
 * gates canaries: treatment as the canary, control as the stable) from the service's
 * per-(flag, variant) counters; a fail kills the flag in the same tick (flags/rollouts.ts
 * killByGuard: safe value, rollout failed, audit entry, `flag.changed`), then opens an incident.
 *
 * Evidence: the sources are tried in order (router first); the first whose counters move for the
 * flag after the guard began is the one judged from then on, so an app behind the Rollgate
 * router is judged from what the router saw, and one behind another proxy from what its SDK
 * reports. Each source's first reading is its baseline: only what happens after it is judged.
 *
 * The judge's state is in memory (a restarted server begins a new guard from the counters at
 * its start, losing at most the last look); the latest look is saved on the rollout every
 * `saveMs` and at the kill, for `rollgate status` on every server. Several servers may judge
 * the same rollout: the kill is a compare and set, applied once.
 */
import { errorMessage } from '../core/errors.js';
import { failedResponses } from '../core/analysis/counters.js';
import type { FlagMetrics, VersionMetrics } from '../core/dataplane.js';
import { BUILTIN_DEFAULTS, type BuiltinConfig } from '../core/analysis/index.js';
import { flagVariantMetrics, lookFlagGuard, newFlagGuard, type FlagGuardLook, type FlagGuardState, type FlagGuardTarget } from '../core/flag-guard.js';
import type { Logger } from '../engine/logger.js';
import type { FlagGuardLookSummary, FlagRolloutRecord } from '../store/flag-rollouts-types.js';
import type { Store } from '../store/types.js';
import type { FlagEvidence } from './evidence/types.js';
import type { FlagRollouts } from './rollouts.js';

export const GUARD_LOOK_MS = 250;
export const GUARD_SAVE_MS = 2000;

export interface FlagGuardsDeps {
  store: Store;
  rollouts: FlagRollouts;
  /** In order of preference (router first). */
  evidence: FlagEvidence[];
  log?: Logger | undefined;
  now?: () => number;
  lookMs?: number;
  saveMs?: number;
  cfg?: BuiltinConfig;
  /** After a kill was committed (the incident; errors are logged, the kill stands). */
  onKilled?: (r: FlagRolloutRecord, look: FlagGuardLookSummary) => Promise<void>;
}

interface Watch {
  target: FlagGuardTarget;
  /** Each source's first reading (absent: not read yet). */
  baselines: Map<FlagEvidence, FlagMetrics | undefined>;
  source: FlagEvidence | null;
  judge: FlagGuardState | null;
  looks: number;
  last: FlagGuardLookSummary | null;
  savedAt: number;
}

const ZERO = { requests: 0, errors: 0 };

function countsSince(base: VersionMetrics | undefined, cur: VersionMetrics | undefined): { requests: number; errors: number } {
  if (!cur) return ZERO;
  // A counter that went down restarted from zero: all of `cur` is new.
  if (!base || cur.requests < base.requests) return { requests: cur.requests, errors: failedResponses(cur) };
  return { requests: cur.requests - base.requests, errors: Math.max(0, failedResponses(cur) - failedResponses(base)) };
}

/** True when the flag's treatment or control counters moved since `base`. */
function moved(base: FlagMetrics | undefined, cur: FlagMetrics | undefined, t: FlagGuardTarget): boolean {
  return countsSince(flagVariantMetrics(base, t.flag, t.treatment), flagVariantMetrics(cur, t.flag, t.treatment)).requests > 0 || countsSince(flagVariantMetrics(base, t.flag, t.control), flagVariantMetrics(cur, t.flag, t.control)).requests > 0;
}

export class FlagGuards {
  private readonly watches = new Map<string, Watch>();
  private readonly now: () => number;
  private readonly lookMs: number;
  private readonly saveMs: number;
  private readonly cfg: BuiltinConfig;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = true;

  constructor(private readonly d: FlagGuardsDeps) {
    this.now = d.now ?? Date.now;
    this.lookMs = d.lookMs ?? GUARD_LOOK_MS;
    this.saveMs = d.saveMs ?? GUARD_SAVE_MS;
    this.cfg = d.cfg ?? BUILTIN_DEFAULTS;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  /** The latest look of a rollout judged by this server (null when it judges none). */
  lastLook(id: string): FlagGuardLookSummary | null {
    return this.watches.get(id)?.last ?? null;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      const t0 = this.now();
      this.running = this.tick()
        .catch((e: unknown) => this.d.log?.warn('flag guard look failed; looking again', { error: errorMessage(e) }))
        .finally(() => {
          this.running = null;
          // Keep the pace: the next look `lookMs` after this one began, however long it took.
          this.schedule(Math.max(0, this.lookMs - (this.now() - t0)));
        });
    }, ms);
    this.timer.unref?.();
  }

  /** One look at every guarded rollout in progress (exported for tests through `lookNow`). */
  async tick(): Promise<void> {
    const rollouts = (await this.d.store.flags.rollouts.listRollouts({ active: true, limit: 1000 })).filter((r) => r.guard !== null && r.guard.killedAt === null);
    const live = new Set(rollouts.map((r) => r.id));
    for (const id of this.watches.keys()) if (!live.has(id)) this.watches.delete(id);
    if (rollouts.length === 0) return;
    // One reading per service and source for this tick, shared by every rollout of that service.
    const readings = new Map<string, Promise<FlagMetrics | undefined | Error>>();
    const read = (src: FlagEvidence, app: string, env: string) => {
      const key = `${src.name}\u0000${app}\u0000${env}`;
      let p = readings.get(key);
      if (!p) {
        p = src.read(app, env).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
        readings.set(key, p);
      }
      return p;
    };
    await Promise.all(rollouts.map((r) => this.look(r, read)));
  }

  private async look(r: FlagRolloutRecord, read: (src: FlagEvidence, app: string, env: string) => Promise<FlagMetrics | undefined | Error>): Promise<void> {
    const g = r.guard!;
    let w = this.watches.get(r.id);
    if (!w) {
      w = { target: { flag: r.flag, treatment: g.treatment, control: g.control }, baselines: new Map(), source: null, judge: null, looks: 0, last: null, savedAt: 0 };
      this.watches.set(r.id, w);
    }
    if (!w.source) {
      for (const src of this.d.evidence) {
        const m = await read(src, r.app, r.env);
        if (m instanceof Error) continue;
        if (!w.baselines.has(src)) {
          w.baselines.set(src, m);
          continue;
        }
        if (moved(w.baselines.get(src), m, w.target)) {
          w.source = src;
          w.judge = newFlagGuard(w.target, w.baselines.get(src), this.cfg);
          break;
        }
      }
      if (!w.source) {
        this.note(w, r, { verdict: 'inconclusive', reason: `flag ${r.flag}: no evidence yet: no response served with ${w.target.treatment.toString()} or ${w.target.control.toString()} counted since the guard began (the app must evaluate through @rollgate/sdk/node's middleware behind the Rollgate router, or report outcomes with its SDK)` }, null);
        await this.maybeSave(r, w);
        return;
      }
    }
    const m = await read(w.source, r.app, r.env);
    if (m instanceof Error) {
      this.note(w, r, { verdict: 'inconclusive', reason: `flag ${r.flag}: the ${w.source.name} evidence could not be read: ${m.message}` }, null);
      await this.maybeSave(r, w);
      return;
    }
    const look = lookFlagGuard(w.judge!, m, this.cfg);
    w.judge = look.state;
    this.note(w, r, look, m);
    if (look.verdict === 'fail') {
      const summary = w.last!;
      const killed = await this.d.rollouts.killByGuard(r, summary);
      this.watches.delete(r.id);
      if (killed) {
        this.d.log?.warn('flag rollout killed by its guard', { rollout: r.id, app: r.app, env: r.env, flag: r.flag, reason: summary.reason });
        await this.d.onKilled?.(killed, summary).catch((e: unknown) => this.d.log?.error('flag guard kill not followed up (incident)', { rollout: r.id, error: errorMessage(e) }));
      }
      return;
    }
    await this.maybeSave(r, w);
  }

  private note(w: Watch, r: FlagRolloutRecord, look: Pick<FlagGuardLook, 'verdict' | 'reason'>, m: FlagMetrics | null | undefined): void {
    w.looks++;
    const base = w.source ? w.baselines.get(w.source) : undefined;
    const t = m != null ? countsSince(flagVariantMetrics(base, r.flag, w.target.treatment), flagVariantMetrics(m, r.flag, w.target.treatment)) : null;
    const c = m != null ? countsSince(flagVariantMetrics(base, r.flag, w.target.control), flagVariantMetrics(m, r.flag, w.target.control)) : null;
    const prev = w.last;
    w.last = {
      at: new Date(this.now()).toISOString(),
      verdict: look.verdict,
      reason: look.reason,
      looks: w.looks,
      evidence: w.source?.name ?? null,
      treatmentRequests: t?.requests ?? prev?.treatmentRequests ?? 0,
      controlRequests: c?.requests ?? prev?.controlRequests ?? 0,
      treatmentErrors: t?.errors ?? prev?.treatmentErrors ?? 0,
      controlErrors: c?.errors ?? prev?.controlErrors ?? 0,
    };
  }

  private async maybeSave(r: FlagRolloutRecord, w: Watch): Promise<void> {
    if (this.now() - w.savedAt < this.saveMs) return;
    w.savedAt = this.now();
    // Compare and set on what was read: a step or a command in between wins, and the next save catches up.
    await this.d.store.flags.rollouts.updateRollout(r.id, { status: r.status, applied: r.applied }, { guard: { ...r.guard!, look: w.last } });
  }
}
