/**
 * A changed secret reaches running instances by a rolling restart: the agent is sent the new
 * values, and it starts replacements of each version with them, keeps the old instances serving
 * until the replacements are ready, then drains and stops the old ones (no failed request). A
 * service with a deployment in progress is left to that deployment, whose next step sends the
 * new values anyway.
 */
import { errorMessage } from '../core/errors.js';
import type { Runtime } from '../runtime/types.js';
import type { ServiceKey, ServiceObserved } from '../core/dataplane.js';
import type { Store } from '../store/types.js';
import type { EventBus } from './events.js';
import type { Logger } from './logger.js';

export interface SecretRefresher {
  refreshSecrets(key: ServiceKey): Promise<ServiceObserved>;
}

const CHANGES = new Set(['secret.set', 'secret.rotated', 'secret.removed']);

export class SecretRollout {
  private readonly unsubscribe: () => void;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly d: { events: EventBus; store: Store; runtime: Runtime & SecretRefresher; log: Logger }) {
    this.unsubscribe = d.events.subscribe((e) => {
      if (!CHANGES.has(e.type) || !e.app || !e.env) return;
      const p = this.restart({ app: e.app, env: e.env }, e.type).finally(() => this.inFlight.delete(p));
      this.inFlight.add(p);
    });
  }

  private async restart(key: ServiceKey, why: string): Promise<void> {
    try {
      const svc = await this.d.store.getServiceState(key.app, key.env);
      if (!svc?.currentReleaseId) return; // nothing runs there yet: the first deployment takes the secrets
      const active = await this.d.store.getActiveDeployment(key.app, key.env);
      if (active) {
        this.d.log.info('secret changed during a deployment: its next step brings the new values', { app: key.app, env: key.env, deploymentId: active.id });
        return;
      }
      await this.d.runtime.refreshSecrets(key);
      this.d.log.info('secret changed: rolling restart of the running instances', { app: key.app, env: key.env, cause: why });
      await this.d.events.emit({ type: 'service.restarted', app: key.app, env: key.env, data: { reason: why, actor: 'system' } });
    } catch (e) {
      this.d.log.error('could not bring a changed secret to the running instances; they keep the old value until the next deployment', { app: key.app, env: key.env, error: errorMessage(e) });
    }
  }

  async close(): Promise<void> {
    this.unsubscribe();
    await Promise.all([...this.inFlight]);
  }
}
