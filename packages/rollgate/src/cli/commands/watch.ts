/**
 * `rollgate watch [DEPLOYMENT|APP] [--env ENV]` (and `status --watch`): the live view of a
 * rollout that `deploy --wait` shows, followed by the event stream. Ctrl-C stops watching and
 * exits 0; the rollout goes on and can be watched again.
 */
import type { Command } from 'commander';
import { AppName, EnvName } from '../../api/contract.js';
import { isActiveStatus } from '../../core/domain.js';
import type { ApiClient } from '../client.js';
import { ClientOpts, action, clientFor, clientOptions, parseArg } from '../command.js';
import { findDeploymentId, pickActiveDeployment } from '../deployment-ref.js';
import { describeDeployment } from '../format.js';
import { onInterrupt } from '../interrupt.js';
import type { Output } from '../output.js';
import { endLine, requireSucceeded, waitForDeployment } from '../watch.js';

const WatchOpts = ClientOpts.extend({ env: EnvName.optional() });

export function registerWatch(program: Command): void {
  clientOptions(
    program
      .command('watch')
      .description('follow a rollout live (the view of `deploy --wait`); Ctrl-C stops watching, the rollout goes on')
      .argument('[target]', 'a deployment id (or its start), or an app name (default: the only deployment in progress)')
      .option('-e, --env <env>', 'the environment whose deployment in progress to watch'),
  ).action(
    action(WatchOpts, async (opts, { out }, target: string | undefined) => {
      const client = clientFor(opts);
      const id = target === undefined ? null : await findDeploymentId(client, target);
      await watchDeployment(client, out, id !== null ? { id } : { app: target === undefined ? undefined : parseArg(AppName, target, 'app'), env: opts.env });
    }),
  );
}

/** Follows one deployment (given, or the one in progress in the scope) until it ends or Ctrl-C. */
export async function watchDeployment(client: ApiClient, out: Output, target: { id: string } | { app?: string | undefined; env?: string | undefined }): Promise<void> {
  const start = 'id' in target ? await client.deployment(target.id) : await pickActiveDeployment(client, target);
  const short = start.id.slice(0, 8);
  if (isActiveStatus(start.status)) out.info(`watching deployment ${start.id} (${start.app} ${start.version} in ${start.env}); Ctrl-C stops watching, the rollout goes on`);
  const interrupt = onInterrupt();
  let final;
  try {
    final = await waitForDeployment(client, start, out, { signal: interrupt.signal });
  } finally {
    interrupt.release();
  }
  if (isActiveStatus(final.status)) {
    out.result(final, () => `stopped watching deployment ${final.id}: it goes on (${describeDeployment(final)}); watch it again with \`rollgate watch ${short}\``);
    return;
  }
  requireSucceeded(final, { deployment: final });
  out.result(final, () => endLine(final));
}
