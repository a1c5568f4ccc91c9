/** Incidents: list them with their durations, open one by hand, resolve one. */
import { oneLine } from '../terminal-text.js';
import type { Command } from 'commander';
import { z } from 'zod';
import { AppName, EnvName } from '../../api/contract.js';
import type { IncidentView } from '../../api/routes-incidents.js';
import { ClientOpts, IntString, action, clientFor, clientOptions, parseArg } from '../command.js';
import { formatDuration, formatTime, table } from '../format.js';

const ListOpts = ClientOpts.extend({
  app: AppName.optional(),
  env: EnvName.optional(),
  status: z.enum(['open', 'resolved', 'all']).default('all'),
  limit: IntString(1, 1000).default(50),
});
const ResolveOpts = ClientOpts.extend({ reason: z.string().trim().min(1).max(2000).optional() });
const OpenOpts = ClientOpts.extend({ env: EnvName, title: z.string().trim().min(1).max(300), severity: z.string().max(32).optional() });
const IncidentId = z.string().regex(/^inc-[0-9a-f]{12}$/, { message: 'incident ids look like inc-0123456789ab (see `rollgate incidents`)' });

export function registerIncidents(program: Command): void {
  clientOptions(
    program
      .command('incidents')
      .description('incidents (rollbacks, failed production deployments, alerts, manual), newest first, with how long each lasted')
      .option('--app <app>', 'only this app')
      .option('-e, --env <env>', 'only this environment')
      .option('--status <status>', 'open, resolved or all', 'all')
      .option('-n, --limit <n>', 'how many', '50'),
  ).action(
    action(ListOpts, async (opts, { out }) => {
      const list = await clientFor(opts).incidents({ app: opts.app, env: opts.env, status: opts.status, limit: opts.limit });
      out.result(list, () => (list.length === 0 ? `no ${opts.status === 'all' ? '' : `${opts.status} `}incidents` : incidentTable(list)));
    }),
  );

  const incident = program.command('incident').description('open or resolve one incident');

  clientOptions(
    incident
      .command('resolve')
      .description('resolve an incident (its duration ends now)')
      .argument('<id>', 'incident id (from `rollgate incidents`)')
      .option('--reason <text>', 'what fixed it, for the record'),
  ).action(
    action(ResolveOpts, async (opts, { out }, idArg: string) => {
      const id = parseArg(IncidentId, idArg, 'incident');
      const i = await clientFor(opts).resolveIncident(id, opts.reason);
      out.result(i, () => `resolved incident ${i.id} (${i.app} in ${i.env}: ${oneLine(i.title)}) after ${formatDuration(i.durationMs)}`);
    }),
  );

  clientOptions(
    incident
      .command('open')
      .description('open an incident by hand')
      .argument('<app>', 'app name')
      .requiredOption('-e, --env <env>', 'environment')
      .requiredOption('--title <text>', 'what is wrong')
      .option('--severity <word>', 'critical, major, minor, warning … (default: major)'),
  ).action(
    action(OpenOpts, async (opts, { out }, appArg: string) => {
      const app = parseArg(AppName, appArg, 'app');
      const i = await clientFor(opts).openIncident({ app, env: opts.env, title: opts.title, ...(opts.severity ? { severity: opts.severity } : {}) });
      out.result(i, () => `opened incident ${i.id} (${i.severity}) for ${i.app} in ${i.env}; resolve it with \`rollgate incident resolve ${i.id}\``);
    }),
  );
}

export function incidentTable(list: IncidentView[]): string {
  const rows = list.map((i) => [
    i.id,
    i.app,
    i.env,
    i.source.replace('_', ' '),
    i.severity,
    i.status,
    formatTime(i.openedAt),
    `${formatDuration(i.durationMs)}${i.status === 'open' ? ' so far' : ''}`,
    i.title.length > 70 ? `${i.title.slice(0, 69)}…` : i.title,
  ]);
  return table(['id', 'app', 'env', 'source', 'severity', 'status', 'opened', 'duration', 'title'], rows);
}
