/**
 * Follows a deployment until it is no longer active. Woken by the SSE event stream (new events
 * only), with polling every 500ms only when the stream is not available. Survives a server restart for a while
 * (the rollout goes on in the data plane; the server resumes it when it is back).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { isActiveStatus } from '../core/domain.js';
import { RollgateError, isRollgateError } from '../core/errors.js';
import type { DeploymentView } from '../api/contract.js';
import type { ApiClient } from './client.js';

export const POLL_MS = 500;
/** With a live event stream, refetch anyway this often in case an event was missed. */
const SAFETY_REFRESH_MS = 5_000;
/** How long the server may be unreachable before --wait gives up. */
const UNREACHABLE_GRACE_MS = 120_000;

export interface FollowHooks {
  /** Called with every fresh view (at least once, and with the final one). */
  onView(view: DeploymentView): void | Promise<void>;
  /** The server could not be reached; following retries. */
  onUnreachable?(message: string): void;
}

export interface FollowOptions {
  pollMs?: number;
  /** Stop following (Ctrl-C): resolves with the last view seen; the rollout itself goes on. */
  signal?: AbortSignal | undefined;
  /** Stop once this holds (default: the deployment is no longer active). */
  done?: ((view: DeploymentView) => boolean) | undefined;
}

export async function followDeployment(client: ApiClient, id: string, hooks: FollowHooks, opts: FollowOptions = {}): Promise<DeploymentView> {
  const pollMs = opts.pollMs ?? POLL_MS;
  const done = opts.done ?? ((v: DeploymentView) => !isActiveStatus(v.status));
  const stop = new AbortController();
  const wake = new Waker();
  const detach = () => {
    stop.abort();
    wake.wake();
  };
  opts.signal?.addEventListener('abort', detach, { once: true });
  let streaming = false;
  const scope: { app?: string; env?: string } = {};

  // Background: listen to the event stream and wake the loop on anything about this deployment.
  const listen = (async () => {
    try {
      // Only what happens from now on; the loop fetches the deployment itself once the stream is open.
      for await (const ev of client.events({ after: 'latest', signal: stop.signal, onOpen: () => ((streaming = true), wake.wake()) })) {
        streaming = true;
        if (ev.deploymentId === id || (scope.app !== undefined && ev.app === scope.app && ev.env === scope.env)) wake.wake();
      }
    } catch {
      // No stream (older server, proxy, restart): polling takes over.
    } finally {
      streaming = false;
    }
  })();

  let unreachableSince: number | null = null;
  let latest: DeploymentView | null = null;
  try {
    for (;;) {
      if (opts.signal?.aborted && latest) return latest;
      let view: DeploymentView;
      try {
        view = await client.deployment(id);
        unreachableSince = null;
      } catch (e) {
        if (!isRollgateError(e) || e.code !== 'unavailable') throw e;
        unreachableSince ??= Date.now();
        if (Date.now() - unreachableSince > UNREACHABLE_GRACE_MS) {
          throw new RollgateError('unavailable', `${e.message}; gave up following deployment ${id} (it may still be running: \`rollgate status\`)`);
        }
        hooks.onUnreachable?.(e.message);
        await sleep(1000);
        continue;
      }
      scope.app = view.app;
      scope.env = view.env;
      latest = view;
      await hooks.onView(view);
      if (done(view) || opts.signal?.aborted) return view;
      await wake.wait(streaming ? SAFETY_REFRESH_MS : pollMs);
    }
  } finally {
    opts.signal?.removeEventListener('abort', detach);
    stop.abort();
    await listen;
  }
}

/** A one-shot wake-up that is remembered if it comes while nobody waits. */
class Waker {
  private pending = false;
  private resolve: (() => void) | null = null;
  wake(): void {
    if (this.resolve) {
      const r = this.resolve;
      this.resolve = null;
      r();
    } else this.pending = true;
  }
  async wait(ms: number): Promise<void> {
    if (this.pending) {
      this.pending = false;
      // Let a burst of events settle into one refetch.
      await sleep(50);
      return;
    }
    await new Promise<void>((res) => {
      const t = setTimeout(() => {
        this.resolve = null;
        res();
      }, ms);
      this.resolve = () => {
        clearTimeout(t);
        res();
      };
    });
    await sleep(50);
  }
}
