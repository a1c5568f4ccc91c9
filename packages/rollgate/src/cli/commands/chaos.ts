/** Chaos experiments: inject a fault into one version's traffic, kill an instance, stop, list. */
import { oneLine } from '../terminal-text.js';
import type { Command } from 'commander';
import { z } from 'zod';
import { AppName, EnvName, Version } from '../../api/contract.js';
import { parseDuration } from '../../core/duration.js';
import type { ChaosRecord } from '../../core/incidents.js';
import type { ApiClient } from '../client.js';
import { ClientOpts, IntString, action, clientFor, clientOptions, parseArg } from '../command.js';
import { UsageError } from '../exit.js';
import { formatTime, table } from '../format.js';

const Percent = z
  .string()
  .regex(/^\d+(\.\d+)?%?$/, { message: 'write a percentage such as 20% or 0.5%' })
  .transform((s) => Number(s.replace('%', '')) / 100);
const DurationText = (what: string) => z.string().transform((s, ctx) => {
  try {
    return parseDuration(s, what);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: e instanceof Error ? e.message : String(e) });
    return z.NEVER;
  }
});

const InjectOpts = ClientOpts.extend({
  env: EnvName,
  version: Version,
  errorRate: Percent.default(0),
  latency: DurationText('--latency').default(0),
  duration: DurationText('--duration').default(60_000),
});
const KillOpts = ClientOpts.extend({ env: EnvName, version: Version });
const StopOpts = ClientOpts.extend({ env: EnvName, version: Version.optional() });
const ListOpts = ClientOpts.extend({ env: EnvName.optional(), status: z.enum(['active', 'stopped', 'expired']).optional(), limit: IntString(1, 1000).default(50) });

export function registerChaos(program: Command): void {
  const chaos = program.command('chaos').description('rehearse failures: make the router fail or slow a version, kill an instance; recorded, time-limited, undone by `chaos stop`');

  clientOptions(
    chaos
      .command('inject')
      .description("fail a share of one version's requests with 503 and delay each by --latency, for --duration")
      .argument('[app]', 'app name (default: the only app running in the environment)')
      .requiredOption('-e, --env <env>', 'environment')
      .requiredOption('--version <version>', 'the version whose traffic gets the fault')
      .option('--error-rate <percent>', 'share of requests answered 503, e.g. 20%', '0%')
      .option('--latency <duration>', 'added before each request, e.g. 200ms (at most 60s)', '0ms')
      .option('--duration <duration>', 'how long the fault lasts (at most 1h)', '60s'),
  ).action(
    action(InjectOpts, async (opts, { out }, appArg: string | undefined) => {
      const client = clientFor(opts);
      const app = await appFor(client, appArg, opts.env);
      const rec = await client.chaosInject({ app, env: opts.env, version: opts.version, errorRate: opts.errorRate, latencyMs: opts.latency, durationMs: opts.duration });
      out.result(rec, () => `fault ${rec.id} on ${app} ${rec.version} in ${rec.env}: ${describeFault(rec)} until ${formatTime(rec.endsAt)}; undo with \`rollgate chaos stop ${app} --env ${rec.env}\``);
    }),
  );

  clientOptions(
    chaos
      .command('kill')
      .description('SIGKILL one instance of a version (the agent restarts it as after a crash)')
      .argument('[app]', 'app name (default: the only app running in the environment)')
      .requiredOption('-e, --env <env>', 'environment')
      .requiredOption('--version <version>', 'the version to kill an instance of'),
  ).action(
    action(KillOpts, async (opts, { out }, appArg: string | undefined) => {
      const client = clientFor(opts);
      const app = await appFor(client, appArg, opts.env);
      const rec = await client.chaosKill({ app, env: opts.env, version: opts.version });
      out.result(rec, () => `${rec.id}: ${oneLine(rec.detail ?? 'killed')}`);
    }),
  );

  clientOptions(
    chaos
      .command('stop')
      .description('end the chaos experiments of an app in an environment (or of one --version)')
      .argument('[app]', 'app name (default: the only app running in the environment)')
      .requiredOption('-e, --env <env>', 'environment')
      .option('--version <version>', 'only this version'),
  ).action(
    action(StopOpts, async (opts, { out }, appArg: string | undefined) => {
      const client = clientFor(opts);
      const app = await appFor(client, appArg, opts.env);
      const r = await client.chaosStop({ app, env: opts.env, ...(opts.version ? { version: opts.version } : {}) });
      out.result(r, () =>
        r.stopped.length === 0 && r.cleared === 0
          ? `no chaos experiment was active on ${app} in ${opts.env}`
          : `stopped ${r.stopped.length} experiment(s) on ${app} in ${opts.env}${r.stopped.length ? ` (${r.stopped.map((s) => s.id).join(', ')})` : ''}; the agent cleared ${r.cleared} fault(s)`,
      );
    }),
  );

  clientOptions(
    chaos
      .command('list')
      .description('chaos experiments, newest first')
      .argument('[app]', 'only this app')
      .option('-e, --env <env>', 'only this environment')
      .option('--status <status>', 'active, stopped or expired')
      .option('-n, --limit <n>', 'how many', '50'),
  ).action(
    action(ListOpts, async (opts, { out }, appArg: string | undefined) => {
      const app = appArg === undefined ? undefined : parseArg(AppName, appArg, 'app');
      const list = await clientFor(opts).chaos({ app, env: opts.env, status: opts.status, limit: opts.limit });
      out.result(list, () => (list.length === 0 ? 'no chaos experiments' : chaosTable(list)));
    }),
  );
}

/** The app named, or the only app running in the environment. */
export async function appFor(client: ApiClient, appArg: string | undefined, env: string): Promise<string> {
  if (appArg !== undefined) return parseArg(AppName, appArg, 'app');
  const apps = [...new Set((await client.status({ env })).map((s) => s.app))].sort();
  if (apps.length === 1) return apps[0]!;
  if (apps.length === 0) throw new UsageError(`no app runs in ${env}; name the app: rollgate chaos … APP --env ${env}`);
  throw new UsageError(`${env} runs several apps (${apps.join(', ')}); name the one to target: rollgate chaos … APP --env ${env}`);
}

export function describeFault(c: Pick<ChaosRecord, 'errorRate' | 'latencyMs'>): string {
  const parts: string[] = [];
  if (c.errorRate > 0) parts.push(`${Math.round(c.errorRate * 10_000) / 100}% of requests fail (503)`);
  if (c.latencyMs > 0) parts.push(`+${c.latencyMs}ms per request`);
  return parts.join(', ') || 'no effect';
}

export function chaosTable(list: ChaosRecord[]): string {
  const rows = list.map((c) => [
    c.id,
    c.app,
    c.env,
    c.version,
    c.kind === 'kill' ? 'kill' : `${Math.round(c.errorRate * 10_000) / 100}% +${c.latencyMs}ms`,
    c.status,
    formatTime(c.startedAt),
    formatTime(c.stoppedAt ?? c.endsAt),
    c.actor,
  ]);
  return table(['id', 'app', 'env', 'version', 'fault', 'status', 'started', 'ends', 'by'], rows);
}
