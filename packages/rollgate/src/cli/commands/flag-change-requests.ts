/**
 * Change requests for flag changes: `rollgate flags propose FLAG --app --env --enable|--disable|
 * --percent N|--steps 1,5,25 --every 10m|--file FEATURE.json|--archive --reason "…" [--expires 24h]`, `rollgate flags
 * requests [ID] [--app --env --flag --status]`, `rollgate flags approve|reject|cancel ID`. Where an
 * environment requires them (production by default), the direct commands are refused and say
 * which `propose` to run instead.
 */
import type { Command } from 'commander';
import { z } from 'zod';
import { AppName, EnvName } from '../../api/contract.js';
import { formatDuration } from '../../core/duration.js';
import { CHANGE_REQUEST_ID_RE, type ChangeRequestView } from '../../flags/change-requests.js';
import { percentOf } from '../../flags/percent.js';
import { FlagName } from '../../flags/rules-schema.js';
import { CHANGE_REQUEST_STATUSES } from '../../store/flag-change-requests-types.js';
import { changeRequestsClient, type Proposal } from '../client-flag-change-requests.js';
import { ClientOpts, IntString, action, clientFor, clientOptions, parseArg } from '../command.js';
import { UsageError } from '../exit.js';
import { formatTime, table } from '../format.js';
import { parseSteps } from './flag-rollouts.js';
import { readJsonFile, strategiesText } from './flags.js';

const ProposeOpts = ClientOpts.extend({
  app: AppName,
  env: EnvName,
  enable: z.boolean().optional(),
  disable: z.boolean().optional(),
  percent: IntString(0, 100).optional(),
  strategy: z.string().max(100).optional(),
  file: z.string().min(1).optional(),
  archive: z.boolean().optional(),
  steps: z.string().max(400).optional(),
  guard: z.boolean().optional(),
  control: z.string().min(1).max(255).optional(),
  every: z.string().max(40).optional(),
  variant: z.string().min(1).max(255).optional(),
  reason: z.string(),
  expires: z.string().max(40).optional(),
});
const ListOpts = ClientOpts.extend({
  app: AppName.optional(),
  env: EnvName.optional(),
  flag: FlagName.optional(),
  status: z.enum([...CHANGE_REQUEST_STATUSES, 'expired', 'all'], { error: `--status is one of ${[...CHANGE_REQUEST_STATUSES, 'expired', 'all'].join(', ')}` }).optional(),
});
const DecideOpts = ClientOpts.extend({ reason: z.string().optional() });
const RequestId = z.string().regex(CHANGE_REQUEST_ID_RE, { message: 'change request ids look like cr_0123456789abcdef (see `rollgate flags requests`)' });

const idArg = (v: string) => parseArg(RequestId, v, 'change request');

/** "rollout 25%", "enable", "set (2 strategies)": what a request changes, in a few words. */
export function changeText(r: Pick<ChangeRequestView, 'action' | 'proposedState' | 'rolloutPlan'>): string {
  if (r.action === 'rollout') return `rollout ${percentOf(r.proposedState) ?? '?'}%`;
  if (r.action === 'steps' && r.rolloutPlan) return `rollout ${r.rolloutPlan.steps.join(',')}% every ${formatDuration(r.rolloutPlan.everyMs)}${r.rolloutPlan.variant !== null ? ` (variant ${r.rolloutPlan.variant})` : ''}${r.rolloutPlan.guard ? ', guarded' : ''}`;
  if (r.action === 'set') return `set (${r.proposedState?.enabled ? 'on' : 'off'}, ${r.proposedState?.strategies?.length ?? 0} strategies)`;
  return r.action;
}

/** One request in a line: what, where, by whom, and where it stands. */
export function requestLine(r: ChangeRequestView): string {
  const when = r.status === 'open' ? `open until ${formatTime(r.expiresAt)}` : r.status === 'expired' ? `expired ${formatTime(r.expiresAt)}` : `${r.status} by ${r.decidedBy ?? '-'} ${formatTime(r.decidedAt)}`;
  return `change request ${r.id}: ${changeText(r)} of flag ${r.flag} (${r.app}) in ${r.env}, proposed by ${r.proposedBy}: ${when}`;
}

function requestDetail(r: ChangeRequestView): string {
  return [
    requestLine(r),
    `reason: ${r.reason}`,
    `proposed ${formatTime(r.createdAt)} against revision ${r.baseRevision}`,
    `before: ${r.baseState ? `${r.baseState.enabled ? 'on' : 'off'}; ${strategiesText(r.baseState)}` : 'not set there'}`,
    `after:  ${r.proposedState ? `${r.proposedState.enabled ? 'on' : 'off'}; ${strategiesText(r.proposedState)}` : 'archived (gone from every environment)'}`,
    ...(r.decisionReason ? [`${r.status === 'approved' ? 'approval' : 'decision'} note: ${r.decisionReason}`] : []),
    ...(r.appliedRevision !== null ? [`applied at revision ${r.appliedRevision}`] : []),
  ].join('\n');
}

function proposal(opts: z.infer<typeof ProposeOpts>): Omit<Proposal, 'state'> & { file?: string } {
  const chosen = [opts.enable && '--enable', opts.disable && '--disable', opts.percent !== undefined && '--percent', opts.file !== undefined && '--file', opts.steps !== undefined && '--steps', opts.archive && '--archive'].filter(Boolean);
  if (chosen.length !== 1) throw new UsageError(`say what to propose: exactly one of --enable, --disable, --percent N, --steps 1,5,25,50,100 --every 10m, --file FEATURE.json, --archive${chosen.length ? ` (not ${chosen.join(' and ')})` : ''}`);
  if (opts.strategy !== undefined && opts.percent === undefined) throw new UsageError('--strategy goes with --percent');
  if ((opts.every !== undefined || opts.variant !== undefined || opts.guard || opts.control !== undefined) && opts.steps === undefined) throw new UsageError('--every, --variant, --guard and --control go with --steps');
  const base = { reason: opts.reason, expires: opts.expires };
  if (opts.steps !== undefined) {
    if (opts.every === undefined) throw new UsageError('a proposed rollout needs both --steps (e.g. 1,5,25,50,100) and --every (e.g. 10m)');
    return { action: 'steps', rollout: { steps: parseSteps(opts.steps), every: opts.every, ...(opts.variant !== undefined ? { variant: opts.variant } : {}), ...(opts.guard ? { guard: true } : {}), ...(opts.control !== undefined ? { control: opts.control } : {}) }, ...base };
  }
  if (opts.enable) return { action: 'enable', ...base };
  if (opts.disable) return { action: 'disable', ...base };
  if (opts.archive) return { action: 'archive', ...base };
  if (opts.percent !== undefined) return { action: 'rollout', percent: opts.percent, strategy: opts.strategy === undefined ? undefined : /^\d+$/.test(opts.strategy) ? Number(opts.strategy) : opts.strategy, ...base };
  return { action: 'set', file: opts.file!, ...base };
}

export function registerFlagChangeRequests(flags: Command): void {
  clientOptions(
    flags
      .command('propose')
      .description('propose a flag change where changes need approval (production by default): someone else holding approve applies it with `rollgate flags approve ID`')
      .argument('<flag>', 'flag name')
      .requiredOption('-a, --app <app>', 'app name')
      .requiredOption('-e, --env <env>', 'environment')
      .option('--enable', 'turn it on')
      .option('--disable', 'turn it off')
      .option('--percent <n>', 'set the flexibleRollout percentage, 0 to 100')
      .option('--strategy <index|id>', 'which flexibleRollout strategy, with --percent, when there are several')
      .option('--file <path>', 'replace its rules with this Unleash feature (JSON), as `flags set` does')
      .option('--steps <list>', 'a rollout the server moves on once approved, e.g. 1,5,25,50,100 (with --every)')
      .option('--every <duration>', 'time between steps, e.g. 10m')
      .option('--variant <name>', "with --steps: move this variant's share instead of the percentage")
      .option('--guard', 'with --steps: a guarded rollout (judged from every response; killed by itself if the new side fails)')
      .option('--control <variant>', 'with --guard and --variant: the variant to compare with')
      .option('--archive', 'archive the flag')
      .requiredOption('--reason <text>', 'what the change is for (the approver reads it)')
      .option('--expires <duration>', 'how long it may be approved (default 24h; 1m to 30d)'),
  ).action(
    action(ProposeOpts, async (opts, { out }, flagName: string) => {
      const { file, ...p } = proposal(opts);
      const body: Proposal = file === undefined ? p : { ...p, state: await readJsonFile(file, 'a flag state') };
      const r = await changeRequestsClient(clientFor(opts)).propose(opts.app, opts.env, parseArg(FlagName, flagName, 'flag'), body);
      out.result(r, () => `${requestLine(r)}\nnothing changes until someone else holding approve in ${r.env} approves it: \`rollgate flags approve ${r.id}\``);
    }),
  );

  clientOptions(
    flags
      .command('requests')
      .description('change requests: the open ones (or --status), or one by id with its before and after')
      .argument('[id]', 'one change request (cr_…)')
      .option('-a, --app <app>', 'only this app')
      .option('-e, --env <env>', 'only this environment')
      .option('--flag <flag>', 'only this flag')
      .option('--status <status>', `${[...CHANGE_REQUEST_STATUSES, 'expired', 'all'].join(' | ')} (default open)`),
  ).action(
    action(ListOpts, async (opts, { out }, id: string | undefined) => {
      const c = changeRequestsClient(clientFor(opts));
      if (id !== undefined) {
        const r = await c.get(idArg(id));
        out.result(r, () => requestDetail(r));
        return;
      }
      const list = await c.list({ app: opts.app, env: opts.env, flag: opts.flag, status: opts.status });
      out.result(list, () =>
        list.length
          ? table(
              ['id', 'app', 'env', 'flag', 'change', 'status', 'proposed by', 'expires', 'reason'],
              list.map((r) => [r.id, r.app, r.env, r.flag, changeText(r), r.status === 'open' || r.status === 'expired' ? r.status : `${r.status} by ${r.decidedBy ?? '-'}`, r.proposedBy, formatTime(r.expiresAt), r.reason]),
            )
          : `no ${opts.status && opts.status !== 'all' ? `${opts.status} ` : opts.status === 'all' ? '' : 'open '}change requests${opts.app ? ` for ${opts.app}` : ''}${opts.env ? ` in ${opts.env}` : ''}`,
      );
    }),
  );

  clientOptions(flags.command('approve').description('approve a change request: its change applies now (never your own: separation of duties)').argument('<id>', 'change request (cr_…)').option('--reason <text>', 'a note for the trail')).action(
    action(DecideOpts, async (opts, { out }, id: string) => {
      const r = await changeRequestsClient(clientFor(opts)).approve(idArg(id), opts.reason);
      out.result(r, () => `${requestLine(r)}; applied${r.appliedRevision !== null ? ` at revision ${r.appliedRevision}` : ''}`);
    }),
  );

  clientOptions(flags.command('reject').description('reject a change request, saying why').argument('<id>', 'change request (cr_…)').requiredOption('--reason <text>', 'why (the proposer reads it)')).action(
    action(DecideOpts, async (opts, { out }, id: string) => {
      const r = await changeRequestsClient(clientFor(opts)).reject(idArg(id), opts.reason ?? '');
      out.result(r, () => requestLine(r));
    }),
  );

  clientOptions(flags.command('cancel').description('withdraw a change request you proposed').argument('<id>', 'change request (cr_…)')).action(
    action(ClientOpts, async (opts, { out }, id: string) => {
      const r = await changeRequestsClient(clientFor(opts)).cancel(idArg(id));
      out.result(r, () => requestLine(r));
    }),
  );
}
