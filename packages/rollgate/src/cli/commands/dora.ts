/** `rollgate dora`: the DORA delivery metrics with their 2024 tiers, as a table or one JSON document. */
import type { Command } from 'commander';
import { z } from 'zod';
import { AppName, EnvName } from '../../api/contract.js';
import type { DoraResult } from '../../dora/load.js';
import { DEFAULT_SINCE, isSince } from '../../dora/window.js';
import { ClientOpts, action, clientFor, clientOptions } from '../command.js';
import { formatDuration, formatTime, table } from '../format.js';

const DoraOpts = ClientOpts.extend({
  app: AppName.optional(),
  env: EnvName.optional(),
  since: z.string().trim().default(DEFAULT_SINCE).refine(isSince, { message: 'write a look-back such as 30d, 12w, 36h, or a date such as 2024-01-31' }),
});

export interface DoraParams {
  app?: string | undefined;
  env?: string | undefined;
  since: string;
}

export function registerDora(program: Command): void {
  clientOptions(
    program
      .command('dora')
      .description('delivery metrics (DORA): deployment frequency, lead time for changes, change failure rate, recovery time, rework rate, with their 2024 tiers')
      .option('--app <app>', 'only this app (default: all)')
      .option('-e, --env <env>', 'only this environment (default: every production environment)')
      .option('--since <when>', 'window start: a look-back (90d, 12w, 36h) or a date (2024-01-31)', DEFAULT_SINCE),
  ).action(
    action(DoraOpts, async (opts, { out }) => {
      const r = await clientFor(opts).dora({ app: opts.app, env: opts.env, since: opts.since });
      for (const w of r.warnings) out.warn(w);
      out.result(r, () => doraTable(r));
    }),
  );
}

export function doraTable(r: DoraResult): string {
  const scope = [r.window.app ?? 'all apps', r.window.env ?? (r.productionEnvironments.length ? `production (${r.productionEnvironments.join(', ')})` : 'production')].join(' in ');
  const head = `DORA metrics for ${scope}, ${formatTime(r.window.since)} → ${formatTime(r.window.until)} (${round(r.window.days, 1)} days)`;
  const df = r.deploymentFrequency;
  const lt = r.leadTimeForChanges;
  const cfr = r.changeFailureRate;
  const rec = r.failedDeploymentRecoveryTime;
  const rw = r.reworkRate;
  const rows = [
    ['deployment frequency', df.perDay === null ? '-' : `${round(df.perDay, 2)}/day (${round(df.perWeek ?? 0, 1)}/week)`, df.tier ?? '-', `${df.count} production deploy${df.count === 1 ? '' : 's'}`],
    [
      'lead time for changes',
      lt.medianSeconds === null ? '-' : `${formatDuration(lt.medianSeconds * 1000)} median`,
      lt.tier ?? '-',
      `${lt.samples} change${lt.samples === 1 ? '' : 's'}${lt.fromGit ? ` (${lt.fromGit} from git)` : ''}${lt.releasesWithoutCommitTime ? `, ${lt.releasesWithoutCommitTime} release(s) without commit time` : ''}`,
    ],
    ['change failure rate', percent(cfr.rate), cfr.tier ?? '-', `${cfr.failed} of ${cfr.total} deployment${cfr.total === 1 ? '' : 's'} rolled back, failed or caused an incident`],
    [
      'failed deployment recovery',
      rec.medianSeconds === null ? '-' : `${formatDuration(rec.medianSeconds * 1000)} median`,
      rec.tier ?? '-',
      `${rec.samples} incident${rec.samples === 1 ? '' : 's'} resolved${rec.open ? `, ${rec.open} open` : ''}`,
    ],
    ['rework rate', percent(rw.rate), '-', `${rw.rework} of ${rw.total} deploy${rw.total === 1 ? '' : 's'} made to fix an incident`],
  ];
  return `${head}\n\n${table(['metric', 'value', 'tier (DORA 2024)', 'based on'], rows)}`;
}

function percent(rate: number | null): string {
  return rate === null ? '-' : `${round(rate * 100, 1)}%`;
}

function round(n: number, digits: number): string {
  return Number(n.toFixed(digits)).toString();
}
