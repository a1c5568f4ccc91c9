/** Commands that steer a rollout in progress, and rollback. */
import type { Command } from 'commander';
import { z } from 'zod';
import { AppName, EnvName, Version } from '../../api/contract.js';
import { isActiveStatus } from '../../core/domain.js';
import { RollgateError } from '../../core/errors.js';
import type { ApiClient, DeploymentAction } from '../client.js';
import { ClientOpts, action, clientFor, clientOptions, parseArg } from '../command.js';
import { describeDeployment } from '../format.js';
import { detachedLine, endLine, requireSucceeded, waitForDeployment, waitOrDetach } from '../watch.js';
import { actionGoal } from '../action-wait.js';
import { OperationFailed } from '../exit.js';
import { onInterrupt } from '../interrupt.js';

const ActionOpts = ClientOpts.extend({ env: EnvName, full: z.boolean().optional(), skipAnalysis: z.boolean().optional(), reason: z.string().max(500).optional(), wait: z.boolean().optional() });
const RetryOpts = ClientOpts.extend({ env: EnvName, wait: z.boolean().optional() });
const RollbackOpts = ClientOpts.extend({ env: EnvName, to: Version.optional(), wait: z.boolean().optional() });

/** The deployment in progress for app × env, or a not_found error saying there is none. */
export async function activeDeployment(client: ApiClient, app: string, env: string): Promise<string> {
  const [latest] = await client.deployments({ app, env, limit: 1 });
  if (!latest || !isActiveStatus(latest.status)) {
    throw new RollgateError('not_found', `no deployment of ${app} is in progress in ${env}${latest ? ` (the last one, ${latest.id}, ${latest.status.replace('_', ' ')})` : ''}`);
  }
  return latest.id;
}

const ACTIONS: { name: DeploymentAction; help: string; past: string; wait: string }[] = [
  { name: 'promote', help: 'continue a paused rollout to its next step (--full: skip every remaining step)', past: 'promotion requested', wait: 'wait until the rollout holds again (its next pause) or ends; exit 1 if it ends other than succeeded' },
  { name: 'pause', help: 'hold the rollout at its current step until `rollgate resume`', past: 'pause requested', wait: 'wait until the rollout holds; exit 1 if it ends other than succeeded first' },
  { name: 'resume', help: 'continue a rollout held by `rollgate pause`', past: 'resume requested', wait: 'wait until the rollout holds again (its next pause) or ends; exit 1 if it ends other than succeeded' },
  { name: 'abort', help: 'stop the rollout: traffic back to the stable version, the new one removed', past: 'abort requested', wait: 'wait until traffic is back on the stable version (ended aborted); exit 1 otherwise' },
  { name: 'fail', help: 'force a rollback of the rollout, as a failed analysis would (ends rolled back)', past: 'rollback forced', wait: 'wait until the rollout ended rolled back; exit 1 otherwise' },
];

export function registerControl(program: Command): void {
  for (const a of ACTIONS) {
    const cmd = clientOptions(
      program
        .command(a.name)
        .description(a.help)
        .argument('<app>', 'app name')
        .requiredOption('-e, --env <env>', 'environment'),
    );
    if (a.name === 'promote') {
      cmd.option('--full', 'promote to 100% at once, skipping the remaining steps');
      cmd.option('--skip-analysis', 'stop judging this rollout automatically (its analysis no longer holds or rolls it back)');
    }
    if (a.name === 'fail') cmd.option('--reason <text>', 'why, for the record');
    cmd.option('-w, --wait', a.wait);
    cmd.action(
      action(ActionOpts, async (opts, { out }, appArg: string) => {
        const app = parseArg(AppName, appArg, 'app');
        const client = clientFor(opts);
        const id = await activeDeployment(client, app, opts.env);
        const body = a.name === 'promote' ? { full: opts.full === true, skipAnalysis: opts.skipAnalysis === true } : a.name === 'fail' && opts.reason ? { reason: opts.reason } : {};
        const view = await client.act(id, a.name, body);
        // The executor acts on the request at its next step; `rollgate status` shows the effect.
        if (!opts.wait) {
          out.result(view, () => `${a.past} for deployment ${view.id} (${app} ${view.version} in ${opts.env}, ${describeDeployment(view)})`);
          return;
        }
        out.info(`${a.past} for deployment ${view.id}; waiting for its outcome (Ctrl-C stops waiting, not the rollout)`);
        const goal = actionGoal(a.name, view);
        const interrupt = onInterrupt();
        let final;
        try {
          final = await waitForDeployment(client, view, out, { signal: interrupt.signal, done: goal.done });
        } finally {
          interrupt.release();
        }
        if (!goal.done(final)) {
          out.result(final, () => `stopped waiting: deployment ${final.id} is ${describeDeployment(final)}; follow it with \`rollgate watch ${final.id.slice(0, 8)}\``);
          return;
        }
        const line = isActiveStatus(final.status) ? `deployment ${final.id} ${describeDeployment(final)}${final.message ? ` — ${final.message}` : ''}` : endLine(final);
        if (!goal.ok(final)) throw new OperationFailed(`deployment_${final.status}`, line, { deployment: final });
        out.result(final, () => line);
      }),
    );
  }

  clientOptions(
    program
      .command('retry')
      .description('deploy again the release whose last rollout failed, was aborted or rolled back (same release, no spec edit)')
      .argument('<app>', 'app name')
      .requiredOption('-e, --env <env>', 'environment')
      .option('-w, --wait', 'follow the deployment until it ends; exit 0 only if it succeeded'),
  ).action(
    action(RetryOpts, async (opts, { out }, appArg: string) => {
      const app = parseArg(AppName, appArg, 'app');
      const client = clientFor(opts);
      const started = await client.retry({ app, env: opts.env });
      if (!opts.wait) {
        out.result(started, () => `retry ${started.id} started: ${app} ${started.version} to ${opts.env}`);
        return;
      }
      const { final, detached } = await waitOrDetach(client, started, out);
      if (detached) return out.result(final, () => detachedLine(final));
      requireSucceeded(final, { deployment: final });
      out.result(final, () => endLine(final));
    }),
  );

  clientOptions(
    program
      .command('rollback')
      .description('return traffic to the previous release at once (or to --to VERSION)')
      .argument('<app>', 'app name')
      .requiredOption('-e, --env <env>', 'environment')
      .option('--to <version>', 'version to return to (default: the release that served before the current one)')
      .option('-w, --wait', 'follow the rollback until it ends; exit 0 only if it succeeded'),
  ).action(
    action(RollbackOpts, async (opts, { out }, appArg: string) => {
      const app = parseArg(AppName, appArg, 'app');
      const client = clientFor(opts);
      const started = await client.rollback({ app, env: opts.env, ...(opts.to ? { toVersion: opts.to } : {}) });
      if (!opts.wait) {
        out.result(started, () => `rollback ${started.id} started: ${app} in ${opts.env} back to ${started.version} (${started.status})`);
        return;
      }
      out.info(`rollback ${started.id}: ${app} in ${opts.env} back to ${started.version}`);
      const { final, detached } = await waitOrDetach(client, started, out);
      if (detached) return out.result(final, () => detachedLine(final));
      requireSucceeded(final, { deployment: final });
      out.result(final, () => endLine(final));
    }),
  );
}
