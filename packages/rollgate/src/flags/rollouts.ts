/**
 * Durable flag rollouts: a list of percentages applied `every` apart by the scheduler
 * (flags/scheduler.ts). Each step is one flag change (flags.putStateIn: revision, rule check,
 * audit entry with before and after, `flag.changed`) in the same transaction as the rollout's
 * step count moving on, and only when that count is still the one read (compare and set): with
 * several servers, or a server killed mid-step, every step is applied exactly once.
 *
 * The first step is applied at start, in the transaction that creates the rollout. A user who
 * changes the percentage (or turns the flag off) while it runs takes over: the rollout pauses
 * with that reason. Pause stops the clock; resume gives back what was left of the wait. Abort
 * sets the percentage to 0 (as Argo Rollouts' abort sends all traffic back to stable), to `to`,
 * or leaves it (`keep`).
 */
import { randomBytes } from 'node:crypto';
import type { AuditInput, AuditTrail } from '../engine/audit.js';
import type { EventBus } from '../engine/events.js';
import type { Logger } from '../engine/logger.js';
import { RollgateError, errorMessage, isRollgateError } from '../core/errors.js';
import type { FlagGuardLookSummary, FlagRolloutGuard, FlagRolloutRecord } from '../store/flag-rollouts-types.js';
import type { FlagState, FlagsTx } from '../store/flags-types.js';
import type { Store } from '../store/types.js';
import { change, type ChangeDeps, type Who } from './changes.js';
import { flagTarget, type Flags, type StateChange } from './flags.js';
import { guardFor } from './guard-target.js';
import { percentOf, variantPercentOf, withPercent, withVariantPercent } from './percent.js';
import type { AbortRolloutBody, StartRolloutBody } from './rollout-inputs.js';

export interface FlagRolloutsDeps {
  flags: Flags;
  store: Store;
  audit: AuditTrail;
  events?: EventBus | undefined;
  log?: Logger | undefined;
  now?: () => number;
  /** Told when something may have become due sooner (the scheduler's wake). */
  wake?: () => void;
}

/** A step lost to someone faster (another server, a user's pause): its transaction rolls back, nothing happened. */
export class LostRace extends Error {}

export const ROLLOUT_ID_RE = /^fr_[0-9a-f]{16}$/;

/** Who a step is by on the trail: the platform, on behalf of whoever started the rollout. */
export const rolloutActor = (r: Pick<FlagRolloutRecord, 'id' | 'startedBy'>) => `system (rollout ${r.id} started by ${r.startedBy})`;

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * A user's command read the rollout, then a step (or another command) committed before its
 * compare-and-set: read again, a few times, then say so (never a 500).
 */
async function retryingRaces<T>(what: string, fn: () => Promise<T>, tries = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof LostRace)) throw e;
      if (i >= tries) throw new RollgateError('conflict', `${what} kept moving while this was asked; try again`);
    }
  }
}

/** The state with the rollout's percentage at `percent`; a percentage rollout also turns the flag on. */
export function stepState(prior: FlagState | null, r: Pick<FlagRolloutRecord, 'flag' | 'env' | 'variant'>, percent: number): FlagState {
  if (r.variant !== null) return withVariantPercent(prior, r.flag, r.env, r.variant, percent);
  return { ...withPercent(prior, r.flag, r.env, percent), enabled: true };
}

export interface RolloutView extends FlagRolloutRecord {
  /** The percentage the rollout has set (null before the first step). */
  percent: number | null;
  /** The percentage of the next step (null when none is left). */
  nextPercent: number | null;
}

export function rolloutView(r: FlagRolloutRecord): RolloutView {
  return { ...r, percent: r.applied > 0 ? r.steps[r.applied - 1]! : null, nextPercent: r.applied < r.steps.length ? r.steps[r.applied]! : null };
}

export class FlagRollouts {
  private readonly c: ChangeDeps;
  private readonly now: () => number;

  constructor(private readonly d: FlagRolloutsDeps) {
    this.c = { flags: d.store.flags, audit: d.audit, events: d.events, log: d.log };
    this.now = d.now ?? Date.now;
    d.flags.onStateChange((tx, ch) => this.takeover(tx, ch));
  }

  // ---- reads

  /** The flag's rollouts in the environment, newest first (the one in progress, if any, among them). */
  async history(app: string, env: string, flag: string, limit = 20): Promise<RolloutView[]> {
    await this.d.flags.mustApp(app);
    await this.d.flags.mustEnv(env);
    return (await this.d.store.flags.rollouts.listRollouts({ app, env, flag, limit })).map(rolloutView);
  }

  /** Rollouts in progress (running or paused), for `rollgate status`. */
  async active(f: { app?: string | undefined; env?: string | undefined } = {}): Promise<RolloutView[]> {
    return (await this.d.store.flags.rollouts.listRollouts({ ...f, active: true, limit: 1000 })).map(rolloutView);
  }

  // ---- commands

  async start(app: string, env: string, flag: string, body: StartRolloutBody, who: Who): Promise<RolloutView> {
    await this.d.flags.mustApp(app);
    await this.d.flags.mustEnv(env);
    const id = `fr_${randomBytes(8).toString('hex')}`;
    const target = flagTarget(app, flag, env);
    const actor = rolloutActor({ id, startedBy: who.actor });
    const out = await change(this.c, who, app, 'flag.rollout.start', target, async (tx) => {
      const spec = { flag, env, variant: body.variant ?? null };
      let guard: FlagRolloutGuard | null = null;
      const put = await this.d.flags.putStateIn(
        tx,
        app,
        env,
        flag,
        actor,
        async (prior) => {
          const running = await tx.rollouts.activeRollout(app, env, flag);
          if (running) throw this.inProgress(running);
          if (spec.variant !== null && !prior?.enabled) throw new RollgateError('invalid_input', `flag ${flag} is off in ${env}: a variant's share matters only while the flag is on; enable it first (\`rollgate flags enable ${flag} --app ${app} --env ${env}\`)`);
          if (body.guard) guard = guardFor(prior, flag, spec.variant, body.control);
          return stepState(prior, spec, body.steps[0]!);
        },
        { byRollout: id },
      );
      const now = this.now();
      const done = body.steps.length === 1;
      const inserted = await tx.rollouts.insertRollout({ id, app, env, flag, variant: spec.variant, steps: body.steps, everyMs: body.every, applied: 1, nextStepAt: done ? null : iso(now + body.every), status: done ? 'completed' : 'running', startedBy: who.actor, guard });
      if (!inserted) throw this.inProgress(await tx.rollouts.activeRollout(app, env, flag));
      if (done) await tx.rollouts.updateRollout(id, { status: 'completed', applied: 1 }, { finishedAt: iso(now) });
      const rec = (await tx.rollouts.getRollout(id))!;
      // The first step is the platform's, like every other: its own entry, after the start's, in this same transaction.
      const step = { actor, action: 'flag.rollout.step', target, before: put.before, after: { revision: put.revision, state: put.state, rollout: id, step: 1, of: body.steps.length, percent: body.steps[0] } };
      return { result: rolloutView(rec), before: null, after: rec, moved: [{ env, revision: put.revision, flag }], also: [step] };
    });
    this.d.wake?.();
    return out;
  }

  async pause(app: string, env: string, flag: string, who: Who): Promise<RolloutView> {
    return this.command(app, env, flag, 'flag.rollout.pause', who, async (tx, r) => {
      if (r.status === 'paused') throw new RollgateError('conflict', `the rollout ${r.id} of ${flag} in ${env} is paused already${r.reason ? ` (${r.reason})` : ''}; resume it with \`rollgate flags rollout resume ${flag} --app ${app} --env ${env}\``);
      return this.pauseIn(tx, r, `paused by ${who.actor}`);
    });
  }

  async resume(app: string, env: string, flag: string, who: Who): Promise<RolloutView> {
    const out = await this.command(app, env, flag, 'flag.rollout.resume', who, async (tx, r) => {
      if (r.status === 'running') throw new RollgateError('conflict', `the rollout ${r.id} of ${flag} in ${env} is running already`);
      const ok = await tx.rollouts.updateRollout(r.id, { status: 'paused', applied: r.applied }, { status: 'running', nextStepAt: iso(this.now() + (r.remainingMs ?? 0)), remainingMs: null, reason: null });
      if (!ok) throw new LostRace();
      return (await tx.rollouts.getRollout(r.id))!;
    });
    this.d.wake?.();
    return out;
  }

  /** Ends the rollout; the percentage goes to `to` (default 0) unless `keep`. */
  async abort(app: string, env: string, flag: string, body: AbortRolloutBody, who: Who): Promise<RolloutView> {
    const to = body.keep ? null : (body.to ?? 0);
    if (to === null) return this.command(app, env, flag, 'flag.rollout.abort', who, (tx, r) => this.endIn(tx, r, `aborted by ${who.actor}; the percentage stays at ${rolloutView(r).percent ?? 0}%`));
    await this.d.flags.mustApp(app);
    await this.d.flags.mustEnv(env);
    return retryingRaces(`the rollout of ${flag} in ${env}`, () =>
      change(this.c, who, app, 'flag.rollout.abort', flagTarget(app, flag, env), async (tx) => {
        const held: { r: FlagRolloutRecord | null } = { r: null };
        // The state first (revision before the rollout's row, the order every step takes too).
        const put = await this.d.flags.putStateIn(
          tx,
          app,
          env,
          flag,
          who.actor,
          async (prior) => {
            const r = await tx.rollouts.activeRollout(app, env, flag);
            if (!r) throw this.noneInProgress(app, env, flag);
            held.r = r;
            return r.variant === null ? withPercent(prior, flag, env, to) : withVariantPercent(prior, flag, env, r.variant, to);
          },
          { byRollout: 'abort' },
        );
        const r = held.r!;
        const after = await this.endIn(tx, r, `aborted by ${who.actor}; the percentage was set to ${to}%`);
        return { result: rolloutView(after), before: r, after: { rollout: after, revision: put.revision, state: put.state }, moved: [{ env, revision: put.revision, flag }] };
      }),
    );
  }

  // ---- the scheduler's part

  /**
   * Applies the next step of a rollout read as due. Returns false when someone got there first
   * (nothing happened). A step the flag refuses (archived, rules no longer valid) fails the rollout.
   */
  async applyStep(r: FlagRolloutRecord): Promise<boolean> {
    const actor = rolloutActor(r);
    const target = flagTarget(r.app, r.flag, r.env);
    const now = this.now();
    const percent = r.steps[r.applied]!;
    try {
      await change(this.c, { actor }, r.app, 'flag.rollout.step', target, async (tx) => {
        // Another server may have taken this step.
        const put = await this.putByRollout(tx, r, actor, (cur) => cur.status === 'running' && cur.applied === r.applied && cur.nextStepAt !== null && Date.parse(cur.nextStepAt) <= now, (prior) => stepState(prior, r, percent));
        const done = r.applied + 1 === r.steps.length;
        const ok = await tx.rollouts.updateRollout(r.id, { status: 'running', applied: r.applied }, { applied: r.applied + 1, nextStepAt: done ? null : iso(now + r.everyMs), status: done ? 'completed' : 'running', ...(done ? { finishedAt: iso(now) } : {}) });
        if (!ok) throw new LostRace();
        const lateMs = Math.max(0, now - Date.parse(r.nextStepAt!));
        return {
          result: null,
          before: put.before,
          after: { revision: put.revision, state: put.state, rollout: r.id, step: r.applied + 1, of: r.steps.length, percent, ...(lateMs > 1000 ? { lateMs } : {}) },
          moved: [{ env: r.env, revision: put.revision, flag: r.flag }],
        };
      });
      return true;
    } catch (e) {
      if (e instanceof LostRace) return false;
      if (!isRollgateError(e)) throw e;
      // The flag refuses this step for good (archived, rules changed so it no longer applies).
      await this.fail(r, `step ${r.applied + 1} (${percent}%) could not be applied: ${errorMessage(e)}`);
      return false;
    }
  }

  /**
   * The guard failed: in one transaction the flag gets its safe value (off, or the rolled-out
   * variant's share 0%), the rollout fails with the judge's reason and its look, and the kill goes
   * on the trail with before and after. Returns the failed rollout, or null when it had ended or
   * moved meanwhile (a step, a user's command, another server's kill: nothing happened).
   */
  async killByGuard(r: FlagRolloutRecord, look: FlagGuardLookSummary): Promise<FlagRolloutRecord | null> {
    const g = r.guard;
    if (!g) throw new RangeError(`rollout ${r.id} has no guard`);
    const actor = `system (guard of rollout ${r.id} started by ${r.startedBy})`;
    const at = iso(this.now());
    try {
      return await change(this.c, { actor }, r.app, 'flag.rollout.guard-kill', flagTarget(r.app, r.flag, r.env), async (tx) => {
        const put = await this.putByRollout(
          tx,
          r,
          actor,
          (cur) => (cur.status === 'running' || cur.status === 'paused') && !cur.guard?.killedAt,
          (prior) => (g.safe === 'variant-zero' && r.variant !== null ? withVariantPercent(prior, r.flag, r.env, r.variant, 0) : { ...(prior ?? withPercent(null, r.flag, r.env, 0)), enabled: false }),
        );
        const cur = (await tx.rollouts.getRollout(r.id))!;
        const reason = `killed by its guard: ${look.reason}`;
        const ok = await tx.rollouts.updateRollout(r.id, { status: cur.status, applied: cur.applied }, { status: 'failed', reason, nextStepAt: null, remainingMs: null, finishedAt: at, guard: { ...g, look, killedAt: at } });
        if (!ok) throw new LostRace();
        const after = (await tx.rollouts.getRollout(r.id))!;
        return { result: after, before: { rollout: cur, state: put.before }, after: { rollout: after, revision: put.revision, state: put.state }, moved: [{ env: r.env, revision: put.revision, flag: r.flag }] };
      });
    } catch (e) {
      if (e instanceof LostRace) return null;
      throw e;
    }
  }

  private async fail(r: FlagRolloutRecord, reason: string): Promise<void> {
    await change(this.c, { actor: rolloutActor(r) }, r.app, 'flag.rollout.fail', flagTarget(r.app, r.flag, r.env), async (tx) => {
      const ok = await tx.rollouts.updateRollout(r.id, { status: 'running', applied: r.applied }, { status: 'failed', reason, nextStepAt: null, finishedAt: iso(this.now()) });
      if (!ok) throw new LostRace();
      return { result: null, before: r, after: await tx.rollouts.getRollout(r.id), moved: [] };
    }).catch((e: unknown) => {
      if (!(e instanceof LostRace)) throw e;
    });
    this.d.log?.warn('flag rollout failed', { rollout: r.id, app: r.app, env: r.env, flag: r.flag, reason });
  }

  // ---- helpers

  /**
   * The flag's state set by the rollout, if the rollout read again under the (app, env) revision
   * lock is still as `still` needs it; else LostRace (someone else moved first, nothing happens).
   */
  private putByRollout(tx: FlagsTx, r: FlagRolloutRecord, actor: string, still: (cur: FlagRolloutRecord) => boolean, make: (prior: FlagState | null) => FlagState) {
    return this.d.flags.putStateIn(
      tx,
      r.app,
      r.env,
      r.flag,
      actor,
      async (prior) => {
        const cur = await tx.rollouts.getRollout(r.id);
        if (!cur || !still(cur)) throw new LostRace();
        return make(prior);
      },
      { byRollout: r.id },
    );
  }

  /** A user's command on the rollout in progress, in one transaction with its audit entry. */
  private async command(app: string, env: string, flag: string, action: string, who: Who, fn: (tx: FlagsTx, r: FlagRolloutRecord) => Promise<FlagRolloutRecord>): Promise<RolloutView> {
    await this.d.flags.mustApp(app);
    await this.d.flags.mustEnv(env);
    return retryingRaces(`the rollout of ${flag} in ${env}`, () =>
      change(this.c, who, app, action, flagTarget(app, flag, env), async (tx) => {
        const r = await tx.rollouts.activeRollout(app, env, flag);
        if (!r) throw this.noneInProgress(app, env, flag);
        const after = await fn(tx, r);
        return { result: rolloutView(after), before: r, after, moved: [] };
      }),
    );
  }

  private async pauseIn(tx: FlagsTx, r: FlagRolloutRecord, reason: string): Promise<FlagRolloutRecord> {
    const remainingMs = r.nextStepAt === null ? 0 : Math.max(0, Date.parse(r.nextStepAt) - this.now());
    const ok = await tx.rollouts.updateRollout(r.id, { status: 'running', applied: r.applied }, { status: 'paused', nextStepAt: null, remainingMs, reason });
    if (!ok) throw new LostRace();
    return (await tx.rollouts.getRollout(r.id))!;
  }

  private async endIn(tx: FlagsTx, r: FlagRolloutRecord, reason: string): Promise<FlagRolloutRecord> {
    const ok = await tx.rollouts.updateRollout(r.id, { status: r.status, applied: r.applied }, { status: 'aborted', nextStepAt: null, remainingMs: null, reason, finishedAt: iso(this.now()) });
    if (!ok) throw new LostRace();
    return (await tx.rollouts.getRollout(r.id))!;
  }

  /**
   * A change by anyone but the rollout: moving its percentage, or turning the flag off, pauses it
   * (in the change's transaction; its entry goes on the trail after the change's).
   */
  private async takeover(tx: FlagsTx, ch: StateChange): Promise<AuditInput[]> {
    const r = await tx.rollouts.activeRollout(ch.app, ch.env, ch.flag);
    if (!r || r.status !== 'running') return [];
    const pct = (s: FlagState | null) => (r.variant === null ? percentOf(s) : variantPercentOf(s, r.variant));
    const after = pct(ch.state);
    const turnedOff = ch.prior?.enabled === true && !ch.state.enabled;
    if (pct(ch.prior) === after && !turnedOff) return [];
    const what = turnedOff ? 'turned the flag off' : `set ${r.variant === null ? 'the rollout' : `variant ${r.variant}`} to ${after ?? 'none'}%`;
    let paused: FlagRolloutRecord;
    try {
      paused = await this.pauseIn(tx, r, `the user took over: ${ch.actor} ${what}; resume with \`rollgate flags rollout resume ${ch.flag} --app ${ch.app} --env ${ch.env}\``);
    } catch (e) {
      // Paused or ended by its own command a moment ago (steps cannot move: this change holds the revision).
      if (e instanceof LostRace) return [];
      throw e;
    }
    return [{ actor: rolloutActor(r), action: 'flag.rollout.pause', target: flagTarget(ch.app, ch.flag, ch.env), before: r, after: paused }];
  }

  private inProgress(r: FlagRolloutRecord | null): RollgateError {
    const where = r ? `${r.flag} in ${r.env}` : 'this flag';
    return new RollgateError('conflict', `${where} has a rollout in progress already${r ? ` (${r.id}, ${r.status}, at step ${r.applied} of ${r.steps.length}, started by ${r.startedBy})` : ''}; one at a time: abort it first (\`rollgate flags rollout abort\`) or let it finish`);
  }

  private noneInProgress(app: string, env: string, flag: string): RollgateError {
    return new RollgateError('not_found', `flag ${flag} of ${app} has no rollout in progress in ${env}; start one with \`rollgate flags rollout ${flag} --app ${app} --env ${env} --steps 1,5,25,50,100 --every 10m\``);
  }
}
