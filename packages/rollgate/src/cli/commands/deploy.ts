/**
 * `rollgate deploy APP --env ENV --path DIR`: check locally, apply the spec when it changes
 * something and the caller may (cli/spec-sync.ts), upload the release, start the deployment.
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import { z } from 'zod';
import { AppName, EnvName, ReleaseQuery, StrategyName, Version } from '../../api/contract.js';
import { ClientOpts, action, clientFor, clientOptions, fileOption, parseArg } from '../command.js';
import { UsageError } from '../exit.js';
import { readCommit } from '../git.js';
import { checkReleaseDir, packDir } from '../pack.js';
import { loadSpecFile, requireAppEnv } from '../spec-file.js';
import { syncSpec } from '../spec-sync.js';
import { detachedLine, endLine, requireSucceeded, waitOrDetach } from '../watch.js';

const DeployOpts = ClientOpts.extend({
  file: z.string(),
  env: EnvName,
  path: z.string().min(1),
  version: Version.optional(),
  strategy: StrategyName.optional(),
  wait: z.boolean().optional(),
  commitSha: ReleaseQuery.shape.commitSha,
  commitTime: ReleaseQuery.shape.commitTime,
});

export function registerDeploy(program: Command): void {
  fileOption(
    clientOptions(
      program
        .command('deploy')
        .description('create a release from a directory (an immutable, content-hashed copy) and deploy it to an environment')
        .argument('<app>', 'app name from rollgate.yaml')
        .requiredOption('-e, --env <env>', 'environment to deploy to')
        .requiredOption('-p, --path <dir>', 'directory holding the app files (shipped as they are; .git and .rollgate are left out)')
        .option('--version <version>', 'release version (default: chosen by the server from the content hash)')
        .addOption(new Option('--strategy <name>', 'override the strategy of the spec').choices(StrategyName.options))
        .option('-w, --wait', 'follow the rollout until it ends; exit 0 only if it succeeded (Ctrl-C stops following, the rollout goes on)')
        .option('--commit-sha <sha>', 'commit the release was built from (default: git HEAD of --path, if any)')
        .option('--commit-time <iso>', 'commit time, ISO-8601 (default: from git)'),
    ),
  ).action(
    action(DeployOpts, async (opts, { out }, appArg: string) => {
      const app = parseArg(AppName, appArg, 'app');
      if ((opts.commitSha === undefined) !== (opts.commitTime === undefined)) {
        throw new UsageError('--commit-sha and --commit-time go together; give both or neither');
      }
      // Everything that can be checked here is, so a mistake changes nothing on the server.
      const loaded = await loadSpecFile(opts.file);
      requireAppEnv(loaded, app, opts.env);
      const dir = await checkReleaseDir(opts.path);
      const commit = opts.commitSha ? { sha: opts.commitSha, time: opts.commitTime } : await readCommit(dir.root);

      const client = clientFor(opts);
      const spec = await syncSpec(client, loaded.spec, (m) => out.warn(m));
      out.info(`uploading ${opts.path} (${dir.files} files)…`);
      const release = await client.uploadRelease(app, packDir(dir), { version: opts.version, commitSha: commit?.sha, commitTime: commit?.time });
      out.info(`release ${release.app} ${release.version} (${release.id}, content ${release.contentHash.slice(0, 12)})`);
      const started = await client.deploy({ app, env: opts.env, releaseId: release.id, ...(opts.strategy ? { strategy: opts.strategy } : {}) });
      if (!opts.wait) {
        out.result({ release, deployment: started, spec }, () => `deployment ${started.id} started: ${app} ${started.version} to ${opts.env} (${started.status}); follow it with \`rollgate status ${app} --env ${opts.env}\``);
        return;
      }
      out.info(`deployment ${started.id}: ${app} ${started.version} to ${opts.env}`);
      const { final, detached } = await waitOrDetach(client, started, out);
      if (detached) return out.result({ release, deployment: final, spec }, () => detachedLine(final));
      requireSucceeded(final, { release, deployment: final, spec });
      out.result({ release, deployment: final, spec }, () => endLine(final));
    }),
  );
}
