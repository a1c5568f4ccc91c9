/**
 * `rollgate flags rollout FLAG --percent N` (at once) or `--steps 1,5,25,50,100 --every 10m
 * [--variant NAME]` (a durable rollout the server moves on by itself), `rollgate flags rollout
 * status|pause|resume|abort FLAG`, and `rollgate flags schedule FLAG --at TIME enable|disable|
 * --percent N`, `schedule list`, `schedule cancel ID`.
 */
import type { Command } from 'commander';
import { z } from 'zod';
import { AppName, EnvName } from '../../api/contract.js';
import { DURATION_RE, parseDuration } from '../../core/duration.js';
import { FlagName } from '../../flags/rules-schema.js';
import { flagsClient } from '../client-flags.js';
import { flagRolloutsClient, type StartRollout } from '../client-flag-rollouts.js';
import { ClientOpts, IntString, action, clientFor, clientOptions, parseArg } from '../command.js';
import { UsageError } from '../exit.js';
import { rolloutLine, scheduleLine } from '../flag-rollout-text.js';

const EnvOpts = ClientOpts.extend({ app: AppName, env: EnvName });
const RolloutOpts = EnvOpts.extend({
  percent: IntString(0, 100).optional(),
  strategy: z.string().max(100).optional(),
  steps: z.string().max(400).optional(),
  every: z.string().max(40).optional(),
  variant: z.string().min(1).max(255).optional(),
  guard: z.boolean().optional(),
  control: z.string().min(1).max(255).optional(),
  to: IntString(0, 100).optional(),
  keep: z.boolean().optional(),
});
const ScheduleOpts = EnvOpts.extend({ at: z.string().max(100).optional(), percent: IntString(0, 100).optional(), all: z.boolean().optional() });

const VERBS = ['status', 'pause', 'resume', 'abort'] as const;
type Verb = (typeof VERBS)[number];
const flagArg = (v: string) => parseArg(FlagName, v, 'flag');

/** "1,5,25,50,100" -> [1, 5, 25, 50, 100]; whether they increase is the server's to say. */
export function parseSteps(text: string): number[] {
  const parts = text.split(',').map((s) => s.trim().replace(/%$/, ''));
  if (parts.some((p) => !/^\d{1,3}$/.test(p))) throw new UsageError(`--steps "${text}": give whole percentages separated by commas, e.g. 1,5,25,50,100`);
  return parts.map(Number);
}

/** An ISO time, or a duration from now ("10m", "in 10m"). */
export function parseAt(text: string, now = Date.now()): string {
  const d = text.trim().replace(/^in\s+/, '');
  if (DURATION_RE.test(d)) return new Date(now + parseDuration(d, '--at')).toISOString();
  const t = Date.parse(text);
  if (Number.isNaN(t) || !/^\d{4}-\d{2}-\d{2}/.test(text.trim())) throw new UsageError(`--at "${text}": give an ISO time (2026-12-24T18:00:00Z) or a time from now (10m, 2h)`);
  return new Date(t).toISOString();
}

const envOptions = (cmd: Command) => clientOptions(cmd.requiredOption('-a, --app <app>', 'app name').requiredOption('-e, --env <env>', 'environment'));

export function registerFlagRollouts(flags: Command): void {
  envOptions(
    flags
      .command('rollout')
      .description("roll a flag out: --percent N sets the flexibleRollout percentage now; --steps/--every moves it step by step, by the server (durable: survives restarts); `rollout status|pause|resume|abort FLAG` acts on one in progress")
      .argument('<flag|verb>', 'flag name, or status | pause | resume | abort')
      .argument('[flag]', 'the flag, after a verb')
      .option('--percent <n>', 'set this percentage now, 0 to 100')
      .option('--strategy <index|id>', 'with --percent: which flexibleRollout strategy, when the flag has several')
      .option('--steps <list>', 'percentages one after another, increasing, e.g. 1,5,25,50,100 (the first is applied at once and turns the flag on)')
      .option('--every <duration>', 'time between two steps, at least 1s (e.g. 10m)')
      .option('--variant <name>', "move this variant's share of the flag's variants instead of the percentage (the flag must be on)")
      .option('--guard', 'judge the flag from every response it serves (the canary analysis: new variant against control) and kill it by itself if the new variant fails: the flag goes off (or the variant to 0%), the rollout fails, an incident opens')
      .option('--control <variant>', 'with --guard and --variant: the variant to compare with (default: the only other one, or one named control)')
      .option('--to <n>', 'with abort: leave the percentage at N (default 0, as Argo Rollouts sends all traffic back to stable)')
      .option('--keep', 'with abort: leave the percentage where the rollout had it'),
  ).action(
    action(RolloutOpts, async (opts, { out }, first: string, second: string | undefined) => {
      const verb = second !== undefined && (VERBS as readonly string[]).includes(first) ? (first as Verb) : null;
      if (second !== undefined && verb === null) throw new UsageError(`"${first} ${second}": give one flag, or a verb (${VERBS.join(', ')}) and a flag`);
      const flag = flagArg(verb ? second! : first);
      const c = flagRolloutsClient(clientFor(opts));
      if (verb === 'status') {
        const list = await c.history(opts.app, opts.env, flag);
        return out.result(list, () => (list.length ? list.slice(0, 5).map((r) => rolloutLine(r)).join('\n') : `flag ${flag} has had no rollout in ${opts.env}; start one with \`rollgate flags rollout ${flag} --app ${opts.app} --env ${opts.env} --steps 1,5,25,50,100 --every 10m\``));
      }
      if (verb === 'pause' || verb === 'resume') {
        const r = await c.act(opts.app, opts.env, flag, verb);
        return out.result(r, () => rolloutLine(r));
      }
      if (verb === 'abort') {
        if (opts.keep && opts.to !== undefined) throw new UsageError('give --to or --keep, not both');
        const r = await c.abort(opts.app, opts.env, flag, opts.keep ? { keep: true } : opts.to !== undefined ? { to: opts.to } : {});
        return out.result(r, () => rolloutLine(r));
      }
      const stepped = opts.steps !== undefined || opts.every !== undefined;
      if (stepped && opts.percent !== undefined) throw new UsageError('give --percent (at once) or --steps with --every (step by step), not both');
      if (stepped) {
        if (opts.steps === undefined || opts.every === undefined) throw new UsageError('a stepped rollout needs both --steps (e.g. 1,5,25,50,100) and --every (e.g. 10m)');
        if (opts.strategy !== undefined) throw new UsageError('--strategy goes with --percent; a stepped rollout moves the flag\'s one flexibleRollout strategy');
        const body: StartRollout = { steps: parseSteps(opts.steps), every: opts.every, ...(opts.variant !== undefined ? { variant: opts.variant } : {}), ...(opts.guard ? { guard: true } : {}), ...(opts.control !== undefined ? { control: opts.control } : {}) };
        const r = await c.start(opts.app, opts.env, flag, body);
        return out.result(r, () => `${rolloutLine(r)}\nthe server moves it on by itself; follow it with \`rollgate flags rollout status ${flag} --app ${opts.app} --env ${opts.env}\``);
      }
      if (opts.percent === undefined) throw new UsageError('give --percent N (at once), or --steps and --every (step by step)');
      if (opts.variant !== undefined || opts.guard || opts.control !== undefined) throw new UsageError('--variant, --guard and --control go with --steps/--every');
      const strategy = opts.strategy === undefined ? undefined : /^\d+$/.test(opts.strategy) ? Number(opts.strategy) : opts.strategy;
      const r = await flagsClient(clientFor(opts)).rollout(opts.app, opts.env, flag, { percent: opts.percent, ...(strategy !== undefined ? { strategy } : {}) });
      if (!r.state.enabled) out.warn(`${r.flag} is off in ${r.env}: the rollout applies once it is enabled (\`rollgate flags enable ${r.flag} --app ${r.app} --env ${r.env}\`)`);
      out.result(r, () => `${r.flag} in ${r.env}: rollout ${opts.percent}% (revision ${r.revision})`);
    }),
  );

  envOptions(
    flags
      .command('schedule')
      .description('change a flag at a given time (the server applies it, within a second; one that was down applies it at start and says it was late); `schedule list`, `schedule cancel ID`')
      .argument('<flag|list|cancel>', 'flag name, or list | cancel')
      .argument('[change|id]', 'enable | disable (or --percent N) after a flag; the id after cancel')
      .option('--at <time>', 'when: an ISO time (2026-12-24T18:00:00Z) or a time from now (10m, 2h)')
      .option('--percent <n>', 'set the percentage to N at that time')
      .option('--all', 'with list: applied, cancelled and failed ones too'),
  ).action(
    action(ScheduleOpts, async (opts, { out }, first: string, second: string | undefined) => {
      const c = flagRolloutsClient(clientFor(opts));
      if (first === 'list' && second === undefined) {
        const list = await c.schedules(opts.app, opts.env, opts.all === true);
        return out.result(list, () => (list.length ? list.map(scheduleLine).join('\n') : `no ${opts.all ? '' : 'pending '}scheduled flag changes for ${opts.app} in ${opts.env}`));
      }
      if (first === 'cancel' && second !== undefined && /^fs_/.test(second)) {
        const s = (await c.schedules(opts.app, opts.env, true)).find((x) => x.id === second);
        if (!s) throw new UsageError(`no scheduled change ${second} for ${opts.app} in ${opts.env}; list them with \`rollgate flags schedule list --app ${opts.app} --env ${opts.env}\``);
        const done = await c.cancel(opts.app, opts.env, s.flag, s.id);
        return out.result(done, () => `cancelled: ${scheduleLine(done)}`);
      }
      const flag = flagArg(first);
      if (opts.at === undefined) throw new UsageError('give --at TIME (an ISO time, or a time from now such as 10m)');
      const change = second === undefined ? (opts.percent !== undefined ? 'percent' : null) : second;
      if (change !== 'enable' && change !== 'disable' && change !== 'percent') throw new UsageError(`say what to do at that time: enable, disable or --percent N${second !== undefined ? ` (not "${second}")` : ''}`);
      if (change !== 'percent' && opts.percent !== undefined) throw new UsageError(`give ${change} or --percent N, not both`);
      const s = await c.schedule(opts.app, opts.env, flag, { at: parseAt(opts.at), action: change, ...(change === 'percent' ? { percent: opts.percent! } : {}) });
      out.result(s, () => `scheduled: ${scheduleLine(s)}; cancel with \`rollgate flags schedule cancel ${s.id} --app ${opts.app} --env ${opts.env}\``);
    }),
  );
}
