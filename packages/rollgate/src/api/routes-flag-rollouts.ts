/**
 * Flag rollouts and scheduled flag changes (src/flags/rollouts.ts, schedules.ts, scheduler.ts).
 *
 *   POST   /v1/apps/:app/envs/:env/flags/:flag/rollouts   { steps, every, variant?, guard? } -> RolloutView (201; first step applied)
 *   GET    /v1/apps/:app/envs/:env/flags/:flag/rollouts   -> RolloutView[] (newest first; the one in progress is running or paused)
 *   POST   /v1/apps/:app/envs/:env/flags/:flag/rollouts/pause|resume  -> RolloutView
 *   POST   /v1/apps/:app/envs/:env/flags/:flag/rollouts/abort  { to?, keep? } -> RolloutView (default: back to 0%)
 *   GET    /v1/flag-rollouts?app=&env=                    -> RolloutView[] in progress (for `rollgate status`)
 *   POST   /v1/apps/:app/envs/:env/flags/:flag/schedules  { at, action: enable|disable|percent, percent? } -> FlagScheduleRecord (201)
 *   GET    /v1/apps/:app/envs/:env/flag-schedules?all=&flag=  -> FlagScheduleRecord[] (pending ones, by time; all with ?all=true)
 *   DELETE /v1/apps/:app/envs/:env/flags/:flag/schedules/:id -> FlagScheduleRecord (cancelled)
 *
 * Changes are audited by the services in their own transaction (flag.rollout.start|pause|resume|
 * abort, flag.rollout.step by the platform, flag.schedule.create|cancel); failed attempts by the
 * audit middleware (the paths are under /flags/).
 */
import type { Context, Hono } from 'hono';
import { RollgateError } from '../core/errors.js';
import { requestSource, type AuditHookOptions } from '../engine/audit-hooks.js';
import type { Who } from '../flags/changes.js';
import { AbortRolloutBody, RolloutListQuery, ScheduleBody, ScheduleListQuery, StartRolloutBody } from '../flags/rollout-inputs.js';
import type { FlagRollouts } from '../flags/rollouts.js';
import type { Flags } from '../flags/flags.js';
import { stepsArg } from '../flags/change-requests.js';
import { FlagName } from '../flags/rules-schema.js';
import { SCHEDULE_ID_RE, type FlagSchedules } from '../flags/schedules.js';
import { AppName, EnvName } from './contract.js';
import { parse, readJson, type ApiEnv } from './http.js';

export interface FlagRolloutRouteDeps {
  rollouts: FlagRollouts;
  schedules: FlagSchedules;
  /** Refuses rollouts and schedules where flag changes need a change request (Flags.mustBeDirect). */
  flags?: Pick<Flags, 'mustBeDirect'> | undefined;
  auditOptions?: AuditHookOptions | undefined;
}

function names(c: Context<ApiEnv>): { app: string; env: string; flag: string } {
  const flag = c.req.param('flag');
  return { app: parse(AppName, c.req.param('app'), 'app'), env: parse(EnvName, c.req.param('env'), 'env'), flag: flag === undefined ? '' : parse(FlagName, flag, 'flag name') };
}

export function registerFlagRolloutRoutes(app: Hono<ApiEnv>, d: FlagRolloutRouteDeps): void {
  const who = (c: Context<ApiEnv>): Who => ({ actor: c.get('actor'), source: requestSource(c, d.auditOptions) });
  const base = '/v1/apps/:app/envs/:env/flags/:flag';

  app.post(`${base}/rollouts`, async (c) => {
    const n = names(c);
    const body = parse(StartRolloutBody, await readJson(c), 'body');
    await d.flags?.mustBeDirect(n.app, n.env, n.flag, 'rollout-start', stepsArg({ steps: body.steps, everyMs: body.every, variant: body.variant, guard: body.guard, control: body.control }));
    return c.json(await d.rollouts.start(n.app, n.env, n.flag, body, who(c)), 201);
  });
  app.get(`${base}/rollouts`, async (c) => {
    const n = names(c);
    return c.json(await d.rollouts.history(n.app, n.env, n.flag));
  });
  app.post(`${base}/rollouts/pause`, async (c) => {
    const n = names(c);
    return c.json(await d.rollouts.pause(n.app, n.env, n.flag, who(c)));
  });
  app.post(`${base}/rollouts/resume`, async (c) => {
    const n = names(c);
    // Its next steps would change the flag with no one's approval.
    await d.flags?.mustBeDirect(n.app, n.env, n.flag, 'rollout-resume');
    return c.json(await d.rollouts.resume(n.app, n.env, n.flag, who(c)));
  });
  app.post(`${base}/rollouts/abort`, async (c) => {
    const n = names(c);
    const body = parse(AbortRolloutBody, await readJson(c), 'body');
    // Back to 0% (or kept where it is) only lowers what users get; another percentage is a change like any other.
    if (!body.keep && (body.to ?? 0) > 0) await d.flags?.mustBeDirect(n.app, n.env, n.flag, 'rollout-abort');
    return c.json(await d.rollouts.abort(n.app, n.env, n.flag, body, who(c)));
  });
  app.get('/v1/flag-rollouts', async (c) => {
    const q = parse(RolloutListQuery, c.req.query(), 'query');
    return c.json(await d.rollouts.active({ app: q.app === undefined ? undefined : parse(AppName, q.app, 'app'), env: q.env === undefined ? undefined : parse(EnvName, q.env, 'env') }));
  });

  app.post(`${base}/schedules`, async (c) => {
    const n = names(c);
    const body = parse(ScheduleBody, await readJson(c), 'body');
    await d.flags?.mustBeDirect(n.app, n.env, n.flag, 'schedule');
    return c.json(await d.schedules.create(n.app, n.env, n.flag, body, who(c)), 201);
  });
  app.get('/v1/apps/:app/envs/:env/flag-schedules', async (c) => {
    const n = names(c);
    const q = parse(ScheduleListQuery, c.req.query(), 'query');
    return c.json(await d.schedules.list(n.app, n.env, { all: q.all === 'true', ...(q.flag !== undefined ? { flag: parse(FlagName, q.flag, 'flag name') } : {}) }));
  });
  app.delete(`${base}/schedules/:id`, async (c) => {
    const n = names(c);
    const id = c.req.param('id');
    if (!SCHEDULE_ID_RE.test(id)) throw new RollgateError('invalid_input', `"${id.slice(0, 40)}" is not a scheduled change id (fs_ and 16 hex digits); list them with \`rollgate flags schedule list --app ${n.app} --env ${n.env}\``);
    return c.json(await d.schedules.cancel(n.app, n.env, id, who(c)));
  });
}
