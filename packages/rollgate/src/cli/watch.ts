/** Waits for a deployment to end while showing its progress the way the terminal allows. */
import type { DeploymentView, ServiceStatus } from '../api/contract.js';
import type { ApiClient } from './client.js';
import { OperationFailed } from './exit.js';
import { followDeployment, type FollowOptions } from './follow.js';
import { deploymentDuration, outcome } from './format.js';
import { oneLine } from './terminal-text.js';
import { withoutTook } from './line-text.js';
import { onInterrupt } from './interrupt.js';
import { isActiveStatus } from '../core/domain.js';
import type { Output } from './output.js';
import { EventLines, LiveBlock, renderLive } from './progress.js';

/** Follows to the end (or until `opts.done`, or until `opts.signal` detaches) and returns the last view. */
export async function waitForDeployment(client: ApiClient, started: DeploymentView, out: Output, opts: Pick<FollowOptions, 'signal' | 'done'> = {}): Promise<DeploymentView> {
  const tty = !out.json && process.stdout.isTTY === true;
  let final: DeploymentView;
  if (tty) {
    const block = new LiveBlock(process.stdout);
    let status: ServiceStatus | null = null;
    let latest = started;
    const draw = () => block.render(renderLive(latest, status));
    // Keep elapsed time moving between updates.
    const ticker = setInterval(draw, 1000);
    try {
      final = await followDeployment(client, started.id, {
        onView: async (view) => {
          latest = view;
          try {
            status = (await client.status({ app: view.app, env: view.env }))[0] ?? null;
          } catch {
            // The view still shows the deployment itself.
          }
          draw();
        },
      }, opts);
    } finally {
      clearInterval(ticker);
      block.done();
    }
  } else {
    const lines = new EventLines((l) => out.info(l));
    let warned = false;
    final = await followDeployment(client, started.id, {
      onView: (view) => lines.show(view),
      onUnreachable: (msg) => {
        if (!warned) out.warn(`${msg}; retrying`);
        warned = true;
      },
    }, opts);
  }
  return final;
}

/** The one-line summary printed when a followed deployment ends (one duration: the message's own "(took …)" is left out). */
export function endLine(d: DeploymentView): string {
  return `deployment ${oneLine(d.id)} ${outcome(d.status)} after ${deploymentDuration(d)}: ${oneLine(withoutTook(d.message) || `${d.app} ${d.version} in ${d.env}`)}`;
}

/** Exit 0 only when it succeeded; anything else is an operation failure (exit 1). */
export function requireSucceeded(d: DeploymentView, result: Record<string, unknown>): void {
  if (d.status === 'succeeded') return;
  throw new OperationFailed(`deployment_${d.status}`, endLine(d), result);
}

/**
 * Follows to the end like waitForDeployment, but Ctrl-C stops following instead of killing the
 * command: `detached` is then true and the rollout goes on (`rollgate watch` comes back to it).
 */
export async function waitOrDetach(client: ApiClient, started: DeploymentView, out: Output): Promise<{ final: DeploymentView; detached: boolean }> {
  const interrupt = onInterrupt();
  try {
    const final = await waitForDeployment(client, started, out, { signal: interrupt.signal });
    return { final, detached: interrupt.signal.aborted && isActiveStatus(final.status) };
  } finally {
    interrupt.release();
  }
}

/** What is printed when the user stopped following a rollout that goes on. */
export function detachedLine(d: DeploymentView): string {
  return `stopped waiting: deployment ${oneLine(d.id)} goes on (${oneLine(outcome(d.status))}${d.step ? `: ${oneLine(d.step)}` : ''}); follow it again with \`rollgate watch ${oneLine(d.id.slice(0, 8))}\``;
}
