/**
 * Is a release serving an environment, healthy, right now? Used by `verify` stages and by
 * automatic approvals ("staging healthy for 10 minutes").
 */
import type { ReleaseRecord } from '../../core/domain.js';
import type { Runtime } from '../../runtime/types.js';
import type { Store } from '../../store/types.js';

export type Health =
  | { state: 'healthy'; detail: string }
  | { state: 'unhealthy'; detail: string }
  /** The release no longer serves the environment (rolled back, replaced): it can never become healthy there. */
  | { state: 'gone'; detail: string };

export async function serviceHealth(store: Store, runtime: Runtime, app: string, env: string, release: ReleaseRecord): Promise<Health> {
  const active = await store.getActiveDeployment(app, env);
  const svc = await store.getServiceState(app, env);
  if (svc?.currentReleaseId !== release.id) {
    if (active?.releaseId === release.id) return { state: 'unhealthy', detail: `${release.version} is still being deployed to ${env}` };
    return { state: 'gone', detail: `${env} no longer serves ${release.version} (rolled back or replaced)` };
  }
  if (active) return { state: 'unhealthy', detail: `a deployment of ${active.version} is in progress in ${env}` };
  const [open] = await store.listIncidents({ app, env, status: 'open', limit: 1 });
  if (open) return { state: 'unhealthy', detail: `incident ${open.id} is open: ${open.title}` };
  let observed;
  try {
    observed = await runtime.observe({ app, env });
  } catch (e) {
    return { state: 'unhealthy', detail: `the data plane cannot be read: ${(e as Error).message}` };
  }
  const v = observed?.versions.find((x) => x.version === release.version);
  if (!v) return { state: 'unhealthy', detail: `no instance of ${release.version} runs in ${env}` };
  if (v.failed) return { state: 'unhealthy', detail: `${release.version} failed in ${env}: ${v.failureReason ?? 'instances keep failing'}` };
  if (v.ready < v.desiredReplicas) return { state: 'unhealthy', detail: `${v.ready} of ${v.desiredReplicas} instances of ${release.version} ready in ${env}` };
  return { state: 'healthy', detail: `${v.ready}/${v.desiredReplicas} instances of ${release.version} ready in ${env}, no open incident` };
}
