import type { RouteSpec, ServiceKey, VersionMetrics } from '../core/dataplane.js';
import type { AgentClient } from '../agent/client.js';
import type { TrafficProvider } from './types.js';

/** Traffic through the agent's built-in router: weights, header and cookie routes, per-version metrics. */
export class BuiltinTraffic implements TrafficProvider {
  readonly name = 'builtin';

  constructor(private readonly client: AgentClient) {}

  async setRoutes(key: ServiceKey, routes: RouteSpec): Promise<void> {
    await this.client.putRoutes(key, routes);
  }

  async getRoutes(key: ServiceKey): Promise<RouteSpec | null> {
    return (await this.client.findService(key))?.routes ?? null;
  }

  async metrics(key: ServiceKey): Promise<Record<string, VersionMetrics>> {
    return (await this.client.findService(key))?.metrics ?? {};
  }
}
