import type { RouteSpec, ServiceKey, ServiceObserved, VersionMetrics } from '../core/dataplane.js';
import type { AgentClient } from '../agent/client.js';
import type { TrafficProvider } from './types.js';

/** Traffic through the agent's built-in router: weights, header and cookie routes, per-version metrics. */
export class BuiltinTraffic implements TrafficProvider {
  readonly name = 'builtin';

  /** Reads of a service under way: routes and metrics asked at once (status) share one agent request. */
  private readonly reading = new Map<string, Promise<ServiceObserved | null>>();

  constructor(private readonly client: AgentClient) {}

  private service(key: ServiceKey): Promise<ServiceObserved | null> {
    const id = `${key.app}\u0000${key.env}`;
    let p = this.reading.get(id);
    if (!p) {
      p = this.client.findService(key).finally(() => this.reading.delete(id));
      this.reading.set(id, p);
    }
    return p;
  }

  async setRoutes(key: ServiceKey, routes: RouteSpec): Promise<void> {
    await this.client.putRoutes(key, routes);
  }

  async getRoutes(key: ServiceKey): Promise<RouteSpec | null> {
    return (await this.service(key))?.routes ?? null;
  }

  async metrics(key: ServiceKey): Promise<Record<string, VersionMetrics>> {
    return (await this.service(key))?.metrics ?? {};
  }
}
