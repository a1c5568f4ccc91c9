/**
 * Scheduled flag changes: enable, disable or set the percentage at a given time. Stored when asked
 * (audited), applied by the scheduler (flags/scheduler.ts) within a second of their time as one
 * flag change by "system (schedule ID made by USER)", with the schedule marked applied in the same
 * transaction (compare and set on its status: applied once, whatever the number of servers). A
 * server that was down at the time applies it when it starts, and says how late it was.
 */
import { randomBytes } from 'node:crypto';
import { formatDuration } from '../core/duration.js';
import { RollgateError, errorMessage, isRollgateError } from '../core/errors.js';
import type { FlagScheduleRecord } from '../store/flag-rollouts-types.js';
import type { FlagState } from '../store/flags-types.js';
import { change, type ChangeDeps, type Who } from './changes.js';
import { flagTarget } from './flags.js';
import { withPercent } from './percent.js';
import type { ScheduleBody } from './rollout-inputs.js';
import { LostRace, type FlagRolloutsDeps } from './rollouts.js';

/** Schedules need what rollouts need. */
export type FlagSchedulesDeps = FlagRolloutsDeps;

export const SCHEDULE_ID_RE = /^fs_[0-9a-f]{16}$/;

/** A scheduled change applied this much after its time is reported late. */
export const LATE_AFTER_MS = 1000;

/** Scheduled this far in the past is a mistake, not clock skew. */
const PAST_SLACK_MS = 5000;

export const scheduleActor = (s: Pick<FlagScheduleRecord, 'id' | 'createdBy'>) => `system (schedule ${s.id} made by ${s.createdBy})`;

function make(s: Pick<FlagScheduleRecord, 'action' | 'percent' | 'flag' | 'env'>, prior: FlagState | null): FlagState {
  if (s.action === 'enable') return { ...(prior ?? { strategies: [] }), enabled: true };
  if (s.action === 'disable') return { ...(prior ?? { strategies: [] }), enabled: false };
  return withPercent(prior, s.flag, s.env, s.percent!);
}

const ACTIONS = { enable: 'flag.enable', disable: 'flag.disable', percent: 'flag.rollout' } as const;

export class FlagSchedules {
  private readonly c: ChangeDeps;
  private readonly now: () => number;

  constructor(private readonly d: FlagSchedulesDeps) {
    this.c = { flags: d.store.flags, audit: d.audit, events: d.events, log: d.log };
    this.now = d.now ?? Date.now;
  }

  async list(app: string, env: string, opts: { all?: boolean; flag?: string } = {}): Promise<FlagScheduleRecord[]> {
    await this.d.flags.mustApp(app);
    await this.d.flags.mustEnv(env);
    return this.d.store.flags.rollouts.listSchedules({ app, env, flag: opts.flag, pending: !opts.all, limit: 1000 });
  }

  async create(app: string, env: string, flag: string, body: ScheduleBody, who: Who): Promise<FlagScheduleRecord> {
    await this.d.flags.mustApp(app);
    await this.d.flags.mustEnv(env);
    const at = Date.parse(body.at);
    if (at < this.now() - PAST_SLACK_MS) throw new RollgateError('invalid_input', `at: ${body.at} is in the past; give a time to come (or make the change now)`);
    const id = `fs_${randomBytes(8).toString('hex')}`;
    const out = await change(this.c, who, app, 'flag.schedule.create', flagTarget(app, flag, env), async (tx) => {
      const f = await tx.getFlag(app, flag);
      if (!f) throw new RollgateError('not_found', `app ${app} has no flag ${flag.slice(0, 255)}; list them with \`rollgate flags list --app ${app}\``);
      if (f.archived) throw new RollgateError('conflict', `flag ${flag} of ${app} is archived (since ${f.archivedAt}); it can no longer change`);
      const spec = { action: body.action, percent: body.percent ?? null, flag, env };
      // Refused now rather than at its time: a percentage the flag cannot take (several flexibleRollout strategies).
      make(spec, (await tx.getState(app, env, flag))?.state ?? null);
      const rec = await tx.rollouts.insertSchedule({ id, app, env, flag, action: body.action, percent: spec.percent, at: new Date(at).toISOString(), createdBy: who.actor });
      return { result: rec, before: null, after: rec, moved: [] };
    });
    this.d.wake?.();
    return out;
  }

  async cancel(app: string, env: string, id: string, who: Who): Promise<FlagScheduleRecord> {
    await this.d.flags.mustApp(app);
    await this.d.flags.mustEnv(env);
    const s = await this.d.store.flags.rollouts.getSchedule(id);
    if (!s || s.app !== app || s.env !== env) throw new RollgateError('not_found', `no scheduled change ${id} of ${app} in ${env}; list them with \`rollgate flags schedule list --app ${app} --env ${env}\``);
    return change(this.c, who, app, 'flag.schedule.cancel', flagTarget(app, s.flag, env), async (tx) => {
      const ok = await tx.rollouts.updateSchedule(id, 'pending', { status: 'cancelled', cancelledBy: who.actor });
      const after = (await tx.rollouts.getSchedule(id))!;
      if (!ok) throw new RollgateError('conflict', `the scheduled change ${id} is ${after.status} already${after.appliedAt ? ` (at ${after.appliedAt})` : ''}; only a pending one can be cancelled`);
      return { result: after, before: s, after, moved: [] };
    });
  }

  /** Applies a schedule read as due; false when another server applied or someone cancelled it first. */
  async apply(s: FlagScheduleRecord): Promise<boolean> {
    const actor = scheduleActor(s);
    const now = this.now();
    const lateMs = Math.max(0, now - Date.parse(s.at));
    const late = lateMs > LATE_AFTER_MS ? `applied ${formatDuration(lateMs)} late: no server was running at ${s.at}` : null;
    try {
      await change(this.c, { actor }, s.app, ACTIONS[s.action], flagTarget(s.app, s.flag, s.env), async (tx) => {
        const put = await this.d.flags.putStateIn(tx, s.app, s.env, s.flag, actor, async (prior) => {
          const cur = await tx.rollouts.getSchedule(s.id);
          if (cur?.status !== 'pending') throw new LostRace();
          return make(s, prior);
        });
        if (!(await tx.rollouts.updateSchedule(s.id, 'pending', { status: 'applied', appliedAt: new Date(now).toISOString(), lateMs, message: late }))) throw new LostRace();
        return { result: null, before: put.before, after: { revision: put.revision, state: put.state, schedule: s.id, at: s.at, ...(late ? { late } : {}) }, moved: [{ env: s.env, revision: put.revision, flag: s.flag }], also: put.also };
      });
      if (late) this.d.log?.warn('scheduled flag change applied late', { schedule: s.id, app: s.app, env: s.env, flag: s.flag, lateMs });
      return true;
    } catch (e) {
      if (e instanceof LostRace) return false;
      if (!isRollgateError(e)) throw e;
      const message = `could not be applied: ${errorMessage(e)}`;
      await change(this.c, { actor }, s.app, 'flag.schedule.fail', flagTarget(s.app, s.flag, s.env), async (tx) => {
        if (!(await tx.rollouts.updateSchedule(s.id, 'pending', { status: 'failed', appliedAt: new Date(now).toISOString(), message }))) throw new LostRace();
        return { result: null, before: s, after: await tx.rollouts.getSchedule(s.id), moved: [] };
      }).catch((x: unknown) => {
        if (!(x instanceof LostRace)) throw x;
      });
      return false;
    }
  }
}
