import type { RouteSpec, ServiceKey, VersionMetrics } from '../core/dataplane.js';

/**
 * Sets weights and header/cookie routes per version, verifies them, and reads per-version
 * request metrics. Implementations: built-in router (traffic/builtin.ts); HAProxy and Gateway API later.
 */
export interface TrafficProvider {
  readonly name: string;
  setRoutes(key: ServiceKey, routes: RouteSpec): Promise<void>;
  /** Routes as the data plane holds them now (verification after a change, adoption after a restart). */
  getRoutes(key: ServiceKey): Promise<RouteSpec | null>;
  /** Monotonic per-version counters; callers diff two readings for a window. */
  metrics(key: ServiceKey): Promise<Record<string, VersionMetrics>>;
}
