/** Read-only commands: status, apps, history, logs. */
import type { Command } from 'commander';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { AppName, EnvName, Version } from '../../api/contract.js';
import type { LogLine, ServiceStatus } from '../../api/contract.js';
import { ClientOpts, IntString, action, clientFor, clientOptions, parseArg } from '../command.js';
import type { ApiClient } from '../client.js';
import { UsageError } from '../exit.js';
import type { Output } from '../output.js';
import type { StageLogLine } from '../../core/pipeline.js';
import { resolveRun } from './pipeline.js';
import { showDeployment } from './deployment.js';
import { watchDeployment } from './watch.js';
import { findDeploymentId, resolveDeploymentId } from '../deployment-ref.js';
import { analysisLines, deploymentDuration, formatTime, outcome, statusTable, table } from '../format.js';
import { instanceResourceTable } from '../resources-format.js';
import { oneLine } from '../terminal-text.js';
import { keepLine, parseGrep, parseLogSince, type LogFilter } from '../log-filter.js';
import { onInterrupt } from '../interrupt.js';
import { missingEnvMessage } from '../env-hint.js';
import { flagRolloutsClient } from '../client-flag-rollouts.js';
import { changeRequestsClient } from '../client-flag-change-requests.js';
import { requestLine } from './flag-change-requests.js';
import { rolloutLine } from '../flag-rollout-text.js';
import { localPlatformHealth } from '../platform-health.js';

const StatusOpts = ClientOpts.extend({ env: EnvName.optional(), watch: z.boolean().optional() });
const HistoryOpts = ClientOpts.extend({ env: EnvName.optional(), limit: IntString(1, 1000).default(20) });
const LogsOpts = ClientOpts.extend({
  env: EnvName.optional(),
  run: z.string().max(36).optional(),
  stage: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, { message: 'a stage name' }).optional(),
  version: Version.optional(),
  instance: z.string().regex(/^[A-Za-z0-9._+-]{1,200}$/, { message: 'instance ids are letters, digits, ".", "_", "+" and "-"' }).optional(),
  tail: IntString(1, 10_000).optional(),
  follow: z.boolean().optional(),
  since: z.string().max(100).optional(),
  grep: z.string().min(1).max(1000).optional(),
});

const optionalApp = (a: unknown) => (a === undefined ? undefined : parseArg(AppName, a, 'app'));

export function registerInfo(program: Command): void {
  clientOptions(
    program
      .command('status')
      .description('per app and environment: current version, traffic weights, instance health, the deployment in progress')
      .argument('[app]', 'only this app')
      .option('-e, --env <env>', 'only this environment')
      .option('-w, --watch', 'follow the deployment in progress live (as `rollgate watch`); Ctrl-C stops watching'),
  ).action(
    action(StatusOpts, async (opts, { out }, appArg: string | undefined) => {
      if (opts.watch) return watchDeployment(clientFor(opts), out, { app: optionalApp(appArg), env: opts.env });
      const client = clientFor(opts);
      // Before the API call: when `up` itself is dead the API is too, and this says why.
      const health = localPlatformHealth(opts.server);
      if (health?.problem) out.warn(health.line);
      const services = await client.status({ app: optionalApp(appArg), env: opts.env });
      // Flag rollouts in progress, a line each (JSON stays the services: scripts read that shape).
      const rollouts = out.json ? [] : await flagRolloutsClient(client).active({ app: optionalApp(appArg), env: opts.env }).catch(() => []);
      // And flag changes waiting for approval.
      const requests = out.json ? [] : await changeRequestsClient(client).list({ app: optionalApp(appArg), env: opts.env }).catch(() => []);
      out.result(services, () => {
        const flagLines = [...rollouts.map((r) => `${r.app}/${r.env}: ${rolloutLine(r)}`), ...requests.map((r) => `${r.app}/${r.env}: ${requestLine(r)}`)];
        if (services.length === 0) return ['nothing deployed yet; deploy with `rollgate deploy APP --env ENV --path DIR`', ...flagLines].join('\n');
        const problems = services.filter((s) => s.dataPlaneError).map((s) => `warning: ${s.app}/${s.env}: data plane not reachable (${oneLine(s.dataPlaneError)}); shown from the store`);
        for (const s of services.filter((x) => x.isolation === 'none')) problems.push(`warning: ${s.app}/${s.env}: instances are not isolated and can read the platform's data directory (keys, tokens, database); install bubblewrap or run the platform as root, or keep isolation: none only where you trust the code`);
        if (health && !health.problem) problems.push(health.line);
        return [statusTable(services), ...instanceResourceTable(services), ...deploymentDetails(services), ...flagLines, ...problems].join('\n');
      });
    }),
  );

  clientOptions(program.command('apps').description('apps known to the server, with the version each environment runs')).action(
    action(ClientOpts, async (opts, { out }) => {
      const apps = await clientFor(opts).apps();
      out.result(apps, () => {
        if (apps.length === 0) return 'no apps yet; declare them in rollgate.yaml and run `rollgate apply`';
        const rows = apps.map((a) => [
          a.name,
          a.environments.map((e) => `${e.env}=${e.currentVersion ?? '-'}${e.status && e.status !== 'succeeded' ? ` (${outcome(e.status)})` : ''}`).join(' ') || '-',
          String(a.releases),
        ]);
        return table(['app', 'environments', 'releases'], rows);
      });
    }),
  );

  clientOptions(
    program
      .command('history')
      .description('past and current deployments, newest first: version, strategy, outcome, duration, who; `history ID` shows one in full')
      .argument('[app]', 'only this app, or a deployment id (or its start) to show that deployment as `rollgate deployment show`')
      .option('-e, --env <env>', 'only this environment')
      .option('-n, --limit <n>', 'how many', '20'),
  ).action(
    action(HistoryOpts, async (opts, { out }, appArg: string | undefined) => {
      const id = appArg === undefined ? null : await findDeploymentId(clientFor(opts), appArg);
      if (id !== null) return showDeployment(clientFor(opts), out, id);
      // App names start with a letter: this can only have been a deployment id.
      if (appArg !== undefined && /^[0-9]/.test(appArg)) return showDeployment(clientFor(opts), out, await resolveDeploymentId(clientFor(opts), appArg));
      const list = await clientFor(opts).deployments({ app: optionalApp(appArg), env: opts.env, limit: opts.limit });
      out.result(list, () => {
        if (list.length === 0) return 'no deployments yet';
        const rows = list.map((d) => [
          d.id.slice(0, 8), // enough to tell them apart; --json has the full id
          d.app,
          d.env,
          d.kind === 'rollback' ? `${d.version} (rollback)` : d.version,
          Object.keys(d.strategy)[0] ?? '-',
          outcome(d.status),
          deploymentDuration(d),
          d.requestedBy,
          formatTime(d.createdAt),
        ]);
        return table(['id', 'app', 'env', 'version', 'strategy', 'outcome', 'duration', 'by', 'created'], rows);
      });
    }),
  );

  clientOptions(
    program
      .command('logs')
      .description("an app's instance output in an environment (--env), or a pipeline run's stage logs (--run / --stage)")
      .argument('[app]', 'app name')
      .option('-e, --env <env>', 'environment')
      .option('--run <id>', "a pipeline run's logs (id or its start)")
      .option('--stage <name>', "only this stage's log (of --run, else of the app's latest run)")
      .option('--version <version>', 'only instances of this version')
      .option('--instance <id>', 'only this instance')
      .option('-n, --tail <n>', 'how many recent lines (default 100; with --since, every line since then)')
      .option('--since <when>', 'only lines since then: a duration back from now (30s, 10m, 2h, 1d) or an ISO time')
      .option('--grep <text>', 'only lines containing TEXT, or matching /regex/flags')
      .option('-f, --follow', 'then print new lines as they are written (streamed from the server) until Ctrl-C'),
  ).action(
    action(LogsOpts, async (opts, { out }, appArg?: string) => {
      const client = clientFor(opts);
      if (opts.run || opts.stage) return stageLogs(client, out, { app: optionalApp(appArg), run: opts.run, stage: opts.stage, follow: opts.follow === true, tail: opts.tail ?? 100 });
      if (!appArg) throw new UsageError('give an app and --env for instance logs, or --run/--stage for pipeline logs');
      if (!opts.env) throw new UsageError(`${await missingEnvMessage(process.argv)}, e.g. rollgate logs ${appArg} --env ENV`);
      const app = parseArg(AppName, appArg, 'app');
      const filter: LogFilter = { since: opts.since === undefined ? undefined : parseLogSince(opts.since), grep: opts.grep === undefined ? undefined : parseGrep(opts.grep) };
      const filtered = filter.since !== undefined || filter.grep !== undefined;
      // Filters look further back than the lines they show; --since alone shows every line since.
      const shown = opts.tail ?? (filter.since !== undefined ? 10_000 : 100);
      const query = { app, env: opts.env, version: opts.version, instance: opts.instance, tail: filtered ? 10_000 : shown };
      const pick = (lines: LogLine[]) => lines.filter((l) => keepLine(l, filter)).slice(-shown);
      if (!opts.follow || out.json) {
        const lines = pick((await client.logs(query)).lines);
        out.result({ lines }, () => lines.map(logLine).join('\n'));
        return;
      }
      await followLogs(client, out, query, filter, pick);
    }),
  );
}

/**
 * `logs -f`: the server streams the tail, then every new line. When the stream ends (the
 * agent restarted) it is opened again and lines already printed are skipped.
 */
async function followLogs(client: ApiClient, out: Output, query: Parameters<ApiClient['followLogs']>[0], filter: LogFilter, pick: (lines: LogLine[]) => LogLine[]): Promise<void> {
  const interrupt = onInterrupt();
  const seen = new LineSet();
  try {
    let first = true;
    while (!interrupt.signal.aborted) {
      let tail: LogLine[] | null = [];
      try {
        for await (const l of client.followLogs(first ? query : { ...query, tail: 1000 }, interrupt.signal)) {
          if (l === 'live') {
            for (const t of seen.fresh(first ? pick(tail ?? []) : (tail ?? []).filter((x) => keepLine(x, filter)))) out.info(logLine(t));
            tail = null;
          } else if (tail) tail.push(l);
          else if (keepLine(l, filter)) for (const t of seen.fresh([l])) out.info(logLine(t));
        }
      } catch (e) {
        if (interrupt.signal.aborted) return;
        throw e;
      }
      if (interrupt.signal.aborted) return;
      first = false;
      out.warn('the log stream ended (the agent may have restarted); following again');
      await sleep(1000, undefined, { signal: interrupt.signal }).catch(() => undefined);
    }
  } finally {
    interrupt.release();
  }
}

export function logLine(l: LogLine): string {
  // An app's output is the least trusted text of all: one line, every control shown escaped.
  return `${formatTime(l.at).slice(11)} ${oneLine(l.version)}/${oneLine(l.instance)}${l.stream === 'stderr' ? ' !' : ''} ${oneLine(l.text)}`;
}

/**
 * Picks the lines of a re-read tail that were not printed yet: newer than what was shown, or
 * within a few seconds of it (lines of different instances may land slightly out of order)
 * and not seen before.
 */
export class LineSet {
  private keys = new Set<string>();
  private floor: string;
  constructor(initial: LogLine[] = []) {
    for (const l of initial) this.keys.add(key(l));
    this.floor = maxAt(initial) ?? '';
  }
  fresh(lines: LogLine[]): LogLine[] {
    const out = lines.filter((l) => l.at >= this.floor && !this.keys.has(key(l)));
    const newest = maxAt(lines);
    if (newest !== null) {
      const slack = new Date(Date.parse(newest) - LATE_LINE_MS).toISOString();
      this.floor = slack > this.floor ? slack : this.floor;
    }
    // Remember only what can still come back (at or after the floor).
    const keep = new Set<string>();
    for (const k of this.keys) if (k >= this.floor) keep.add(k);
    for (const l of lines) if (l.at >= this.floor) keep.add(key(l));
    this.keys = keep;
    return out;
  }
}

const LATE_LINE_MS = 5000;

function maxAt(lines: LogLine[]): string | null {
  let m: string | null = null;
  for (const l of lines) if (m === null || l.at > m) m = l.at;
  return m;
}

function key(l: LogLine): string {
  return `${l.at}\u0000${l.instance}\u0000${l.stream}\u0000${l.text}`;
}

async function stageLogs(client: ApiClient, out: Output, o: { app: string | undefined; run: string | undefined; stage: string | undefined; follow: boolean; tail: number }): Promise<void> {
  let id: string;
  if (o.run) id = await resolveRun(client, o.run);
  else {
    if (!o.app) throw new UsageError('--stage without --run needs the app, whose latest run is shown');
    const [latest] = await client.runs({ app: o.app, limit: 1 });
    if (!latest) throw new UsageError(`app "${o.app}" has no pipeline run yet`);
    id = latest.id;
  }
  const print = (l: StageLogLine) => out.info(stageLogLine(l, !o.stage));
  if (!o.follow || out.json) {
    const { lines } = await client.runLogs(id, { stage: o.stage, limit: 10_000 });
    const shown = lines.slice(-o.tail);
    out.result({ runId: id, lines: shown }, () => shown.map((l) => stageLogLine(l, !o.stage)).join('\n'));
    return;
  }
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  try {
    for await (const l of client.followRunLogs(id, { stage: o.stage, signal: stop.signal })) print(l);
  } catch (e) {
    if (!stop.signal.aborted) throw e;
  } finally {
    process.off('SIGINT', onSignal);
  }
}

export function stageLogLine(l: StageLogLine, withStage: boolean): string {
  return `${formatTime(l.at).slice(11)}${withStage ? ` ${oneLine(l.stage)}` : ''}${l.stream === 'stderr' ? ' !' : l.stream === 'system' ? ' #' : ''} ${oneLine(l.text)}`;
}

/** Below the table, each deployment in progress in full: what it waits for and the analysis behind it (never cut off). */
function deploymentDetails(services: ServiceStatus[]): string[] {
  return services.flatMap((s) => {
    const d = s.activeDeployment;
    if (!d) return [];
    return [`${oneLine(s.app)}/${oneLine(s.env)}: ${oneLine(d.version)} ${outcome(d.status)}${d.message ? ` — ${oneLine(d.message)}` : ''}`, ...analysisLines(d.state.analysis)];
  });
}
