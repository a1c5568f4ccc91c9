/** `rollgate releases list APP` and `rollgate releases prune APP --keep N`: retention by hand. */
import type { Command } from 'commander';
import { z } from 'zod';
import { AppName } from '../../api/contract.js';
import type { ReleaseUse, ReleaseView } from '../../engine/release-retention.js';
import { ClientOpts, IntString, action, clientFor, clientOptions, parseArg } from '../command.js';
import { formatTime, table } from '../format.js';

const ListOpts = ClientOpts.extend({ all: z.boolean().optional() });
const PruneOpts = ClientOpts.extend({ keep: IntString(0, 100_000).optional(), dryRun: z.boolean().optional() });

export function registerReleases(program: Command): void {
  const releases = program.command('releases').description("an app's releases: which run, which are stable or rollback targets, and pruning the rest");

  clientOptions(
    releases
      .command('list')
      .description('releases of an app, newest first, with where each runs or is kept as a rollback target')
      .argument('<app>', 'app name')
      .option('--all', 'include pruned releases'),
  ).action(
    action(ListOpts, async (opts, { out }, appArg: string) => {
      const app = parseArg(AppName, appArg, 'app');
      const list = (await clientFor(opts).releases(app)).filter((r) => opts.all || r.prunedAt === null);
      const note = list.some((r) => !r.runningKnown) ? '\n(the agent did not answer: what runs is not shown)' : '';
      out.result(list, () => (list.length === 0 ? `no releases of ${app}${opts.all ? '' : ' kept (--all shows pruned ones)'}` : releaseTable(list) + note));
    }),
  );

  clientOptions(
    releases
      .command('prune')
      .description('remove old releases, keeping the N newest and every release that runs, is stable, or is a rollback target')
      .argument('<app>', 'app name')
      .option('--keep <n>', "how many of the newest releases to keep besides the protected ones (default: the server's policy)")
      .option('--dry-run', 'say what would be pruned, change nothing'),
  ).action(
    action(PruneOpts, async (opts, { out }, appArg: string) => {
      const app = parseArg(AppName, appArg, 'app');
      const r = await clientFor(opts).pruneReleases(app, { ...(opts.keep === undefined ? {} : { keep: opts.keep }), ...(opts.dryRun ? { dryRun: true } : {}) });
      out.result(r, () => {
        const verb = r.dryRun ? 'would prune' : 'pruned';
        const lines = [r.pruned.length ? `${verb} ${r.pruned.length} release(s) of ${app}: ${r.pruned.map((p) => p.version).join(', ')}` : `nothing to prune: ${app} has no unused release beyond the ${r.keep} newest`];
        for (const p of r.protected) lines.push(`kept ${p.version}: ${p.uses.map(useText).join(', ')}`);
        return lines.join('\n');
      });
    }),
  );
}

export function useText(u: ReleaseUse): string {
  const role = u.role === 'rollback-target' ? 'rollback target' : u.role;
  return `${role}${u.env ? ` in ${u.env}` : ''}${u.detail ? ` (${u.detail})` : ''}`;
}

export function releaseTable(list: ReleaseView[]): string {
  const rows = list.map((r) => [r.version, r.id.slice(0, 8), formatTime(r.createdAt), r.createdBy, r.prunedAt ? `pruned ${formatTime(r.prunedAt)}` : r.uses.length ? r.uses.map(useText).join(', ') : '-']);
  return table(['version', 'id', 'created', 'by', 'in use'], rows);
}
