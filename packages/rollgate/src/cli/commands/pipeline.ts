/**
 * Pipeline commands: `release` starts a run; `pipeline status|cancel|retry` watch and steer it;
 * `approve` and `reject` answer its approval stages.
 */
import { oneLine } from '../terminal-text.js';
import { besidesStatus, withoutTook } from '../line-text.js';
import type { Command } from 'commander';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { AppName, ReleaseQuery, Version } from '../../api/contract.js';
import type { PipelineRunRecord, StageRecord } from '../../core/pipeline.js';
import type { RunView } from '../../engine/pipeline/pipelines.js';
import type { ApiClient } from '../client.js';
import { ClientOpts, IntString, action, clientFor, clientOptions, fileOption, parseArg } from '../command.js';
import { OperationFailed, UsageError } from '../exit.js';
import { formatDuration, formatTime, table } from '../format.js';
import { readCommit } from '../git.js';
import type { Output } from '../output.js';
import { checkReleaseDir, packDir } from '../pack.js';
import { loadSpecFile } from '../spec-file.js';

const StageOpt = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, { message: 'a stage name' });

const ReleaseOpts = ClientOpts.extend({
  file: z.string(),
  path: z.string().min(1).optional(),
  git: z.string().min(1).max(200).optional(),
  pipeline: AppName.optional(),
  version: Version.optional(),
  wait: z.boolean().optional(),
  apply: z.boolean().default(true),
  commitSha: ReleaseQuery.shape.commitSha,
  commitTime: ReleaseQuery.shape.commitTime,
});

/** Accepts a whole run id or a unique prefix of one (as `git` does with commits). */
export async function resolveRun(client: ApiClient, arg: string): Promise<string> {
  if (/^[0-9a-f-]{36}$/.test(arg)) return arg;
  if (!/^[0-9a-f-]{4,35}$/.test(arg)) throw new UsageError(`"${arg.slice(0, 60)}" is not a run id (or the start of one); list runs with rollgate pipeline status`);
  const hits = (await client.runs({ limit: 1000 })).filter((r) => r.id.startsWith(arg));
  if (hits.length === 1) return hits[0]!.id;
  throw new UsageError(hits.length === 0 ? `no run starts with ${arg}` : `${hits.length} runs start with ${arg}; give more of the id`);
}

export function registerPipeline(program: Command): void {
  fileOption(
    clientOptions(
      program
        .command('release')
        .description("start a pipeline run for an app: build once, pass its gates and approvals, promote the same release through every environment")
        .argument('<app>', 'app name')
        .option('-p, --path <dir>', 'source directory to release (default: the current directory)')
        .option('--git <ref>', "build this branch, tag or commit of the pipeline's git source instead")
        .option('--pipeline <name>', 'which pipeline (default: the one of the app)')
        .option('--version <version>', 'release version (default: from the content hash)')
        .option('-w, --wait', 'follow the run until it ends; exit 0 only if it succeeded')
        .option('--no-apply', 'do not apply the spec file first')
        .option('--commit-sha <sha>', 'commit of the source (default: git HEAD of --path)')
        .option('--commit-time <iso>', 'commit time, ISO-8601 (default: from git)'),
    ),
  ).action(
    action(ReleaseOpts, async (opts, { out }, appArg: string) => {
      const app = parseArg(AppName, appArg, 'app');
      if (opts.path && opts.git) throw new UsageError('give --path or --git, not both');
      const client = clientFor(opts);
      if (opts.apply) {
        const loaded = await loadSpecFile(opts.file);
        await client.applySpec(loaded.spec);
      }
      const target = opts.pipeline ? { pipeline: opts.pipeline } : { app };
      let run: RunView;
      if (opts.git) {
        run = await client.startRun(target, { ref: opts.git, version: opts.version });
      } else {
        const dir = await checkReleaseDir(opts.path ?? '.');
        const commit = opts.commitSha ? { sha: opts.commitSha, time: opts.commitTime } : await readCommit(dir.root);
        out.info(`uploading ${opts.path ?? '.'} (${dir.files} files)…`);
        run = await client.startRun(target, { archive: packDir(dir), version: opts.version, commitSha: commit?.sha, commitTime: commit?.time });
      }
      if (!opts.wait) {
        out.result(run, () => `run ${run.id} of pipeline ${run.pipeline} queued; follow it with \`rollgate pipeline status ${run.id.slice(0, 8)}\``);
        return;
      }
      out.info(`run ${run.id} of pipeline ${run.pipeline}`);
      const final = await followRun(client, run.id, out);
      if (final.status !== 'succeeded') throw new OperationFailed(`run_${final.status}`, `run ${final.id} ${final.status}: ${oneLine(final.message)}`, final);
      out.result(final, () => `run ${final.id} succeeded: ${oneLine(final.releaseVersion)} ${oneLine(final.message)}`);
    }),
  );

  const pipeline = program.command('pipeline').description('pipeline runs: status, cancel, retry');
  clientOptions(
    pipeline
      .command('status')
      .description('recent runs, or one run with its stages')
      .argument('[run]', 'run id (or its start)')
      .option('--app <app>', 'only runs of this app')
      .option('--pipeline <name>', 'only runs of this pipeline')
      .option('-n, --limit <n>', 'how many runs', '20')
      .option('-w, --wait', 'with a run: follow it until it ends'),
  ).action(
    action(ClientOpts.extend({ app: AppName.optional(), pipeline: AppName.optional(), limit: IntString(1, 1000), wait: z.boolean().optional() }), async (opts, { out }, runArg?: string) => {
      const client = clientFor(opts);
      if (!runArg) {
        const runs = await client.runs({ app: opts.app, pipeline: opts.pipeline, limit: opts.limit });
        out.result(runs, () => (runs.length ? runsTable(runs) : 'no pipeline runs yet; start one with rollgate release APP'));
        return;
      }
      const id = await resolveRun(client, runArg);
      const view = opts.wait ? await followRun(client, id, out) : await client.run(id);
      out.result(view, () => runText(view));
    }),
  );
  for (const verb of ['cancel', 'retry'] as const) {
    const cmd = pipeline
      .command(verb)
      .description(verb === 'cancel' ? 'stop a run: commands are killed, rollouts in progress aborted' : 'run again the stages of a failed or cancelled run that did not succeed')
      .argument('<run>', 'run id (or its start)');
    if (verb === 'retry') cmd.option('--stage <name>', 'the failed stage to retry (checked; every stage that did not succeed runs again)');
    clientOptions(cmd).action(
      action(ClientOpts.extend({ stage: StageOpt.optional() }), async (opts, { out }, runArg: string) => {
        const client = clientFor(opts);
        const id = await resolveRun(client, runArg);
        const view = await client.runAction(id, verb, verb === 'retry' && opts.stage ? { stage: opts.stage } : {});
        out.result(view, () => runText(view));
      }),
    );
  }

  for (const verb of ['approve', 'reject'] as const) {
    const cmd = program
      .command(verb)
      .description(verb === 'approve' ? 'approve the approval stage a run waits on' : 'reject a run at its approval stage: the run ends failed')
      .argument('<run>', 'run id (or its start)')
      .option('--stage <name>', 'which approval stage, when several wait');
    if (verb === 'reject') cmd.requiredOption('--reason <text>', 'why (shown to everyone on the run)');
    else cmd.option('--reason <text>', 'note kept with the approval');
    clientOptions(cmd).action(
      action(ClientOpts.extend({ stage: StageOpt.optional(), reason: z.string().max(1000).optional() }), async (opts, { out }, runArg: string) => {
        const client = clientFor(opts);
        const id = await resolveRun(client, runArg);
        const view = await client.runAction(id, verb, { ...(opts.stage ? { stage: opts.stage } : {}), ...(opts.reason ? { reason: opts.reason } : {}) });
        out.result(view, () => `${verb === 'approve' ? 'approved' : 'rejected'}: run ${view.id}\n${runText(view)}`);
      }),
    );
  }
}

/** Polls a run and prints each stage change as a line until the run ends. */
export async function followRun(client: ApiClient, id: string, out: Output): Promise<RunView> {
  const said = new Map<string, string>();
  for (;;) {
    const view = await client.run(id);
    for (const s of view.stages) {
      const line = stageLine(s);
      if (s.status !== 'pending' && said.get(s.name) !== line) {
        said.set(s.name, line);
        out.info(line);
      }
    }
    if (!['queued', 'running', 'waiting'].includes(view.status)) return view;
    await sleep(500);
  }
}

const MARK: Record<string, string> = { succeeded: '✓', failed: '✗', running: '▶', waiting: '…', skipped: '-', cancelled: '■', pending: ' ' };

function stageLine(s: StageRecord): string {
  const took = s.startedAt && s.finishedAt ? ` (${formatDuration(Date.parse(s.finishedAt) - Date.parse(s.startedAt))})` : '';
  // One duration per line, and no message that only repeats the status.
  const msg = besidesStatus(s.status, took ? withoutTook(s.message) : s.message);
  return `${MARK[s.status] ?? '?'} ${oneLine(s.name)} [${s.kind}] ${s.status}${took}${msg ? `: ${oneLine(msg)}` : ''}`;
}

export function runText(v: RunView): string {
  const msg = besidesStatus(v.status, v.message);
  const head = `run ${v.id}  pipeline ${v.pipeline}  app ${v.app}  ${v.status}${v.releaseVersion ? `  release ${oneLine(v.releaseVersion)}` : ''}${msg ? `\n${oneLine(msg)}` : ''}`;
  return [head, ...v.stages.map(stageLine)].join('\n');
}

function runsTable(runs: PipelineRunRecord[]): string {
  return table(
    ['RUN', 'PIPELINE', 'STATUS', 'RELEASE', 'STARTED', 'MESSAGE'],
    runs.map((r) => [r.id.slice(0, 8), r.pipeline, r.status, r.releaseVersion ?? '-', formatTime(r.createdAt), r.message.slice(0, 80)]),
  );
}
