/**
 * What `--wait` waits for after a command on a rollout, and whether the outcome is the one
 * asked for: promote/resume until the next point where the rollout holds (a pause, a hold of
 * its analysis) or its end; pause until it holds; abort until rolled back (aborted); fail until
 * rolled back. Pure, so it is tested without a server.
 */
import { isActiveStatus } from '../core/domain.js';
import type { DeploymentView } from '../api/contract.js';
import type { DeploymentAction } from './client.js';

export interface ActionGoal {
  done(view: DeploymentView): boolean;
  /** True when the view reached is the outcome asked for (exit 0), false for exit 1. */
  ok(view: DeploymentView): boolean;
}

/** `answered`: the deployment as the command's answer gave it (before the executor acted). */
export function actionGoal(action: DeploymentAction, answered: DeploymentView): ActionGoal {
  const lastEvent = answered.timeline.reduce((m, e) => Math.max(m, e.id), 0);
  const holdsAgain = (v: DeploymentView) => v.status === 'paused' && !v.state.pausedByUser && (v.message !== answered.message || v.timeline.some((e) => e.id > lastEvent && e.kind === 'paused'));
  switch (action) {
    case 'promote':
    case 'resume':
      return { done: (v) => !isActiveStatus(v.status) || holdsAgain(v), ok: (v) => v.status === 'succeeded' || isActiveStatus(v.status) };
    case 'pause':
      return { done: (v) => !isActiveStatus(v.status) || (v.status === 'paused' && v.state.pausedByUser && v.message.startsWith('paused by user')), ok: (v) => v.status === 'paused' || v.status === 'succeeded' };
    case 'abort':
      return { done: (v) => !isActiveStatus(v.status), ok: (v) => v.status === 'aborted' };
    case 'fail':
      return { done: (v) => !isActiveStatus(v.status), ok: (v) => v.status === 'rolled_back' };
  }
}
