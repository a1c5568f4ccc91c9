/**
 * The in-process contract between the agent's supervisor (which owns instances) and its
 * router (which owns listeners and the request hot path).
 */
import type { FlagMetrics, LatencyHistogram, RouteSpec, VersionMetrics } from '../core/dataplane.js';

/** One instance the router may send requests to. */
export interface Backend {
  id: string;
  version: string;
  host: string;
  port: number;
}

/** Everything the router needs to route one service (app × environment). */
export interface ServiceTable {
  env: string;
  app: string;
  /** Host names (without port) this app answers to on its environment's listener; empty = any host. */
  hosts: string[];
  /** Null until the control plane has set routes; the router then answers 503. */
  routes: RouteSpec | null;
  /** Backends in rotation (ready), per version. Draining or starting instances are not listed. */
  backends: Record<string, Backend[]>;
}

export interface RouterOptions {
  /** Consecutive connection failures or 5xx answers from one backend before it is ejected. */
  ejectAfterFailures?: number;
  /** First ejection time; doubles on each repeat ejection of the same backend, capped. */
  baseEjectionMs?: number;
  /** Called when the router ejects or readmits a backend. */
  onBackendState?: (backendId: string, ejected: boolean, reason: string) => void;
  /** Injected faults (chaos): asked once per request after the version is chosen. */
  faults?: FaultSource;
}

export interface FaultSource {
  /** Null (the usual case): forward. Otherwise hold `delayMs`, then answer `failStatus` or forward. */
  decide(env: string, app: string, version: string): { readonly failStatus: number | null; readonly delayMs: number } | null;
}

export interface DataRouter {
  /** Opens (or keeps) the listener of an environment. Rejects with RollgateError('port_in_use') if the address is taken. */
  ensureListener(env: string, host: string, port: number): Promise<void>;
  closeListener(env: string): Promise<void>;
  /**
   * Replaces the table of one service; takes effect for the next request. Opens or closes the
   * blue-green preview listener named in `routes.preview` as needed.
   */
  setService(table: ServiceTable): Promise<void>;
  removeService(env: string, app: string): Promise<void>;
  /** Requests in flight to a backend now (the supervisor drains until this is 0). */
  inFlight(backendId: string): number;
  /** Whether the router has ejected this backend (outlier detection). */
  isEjected(backendId: string): boolean;
  /** Closes idle keep-alive sockets to a backend that is leaving rotation. */
  releaseBackend(backendId: string): void;
  /** Monotonic per-version counters of one service. */
  metrics(env: string, app: string): Record<string, VersionMetrics>;
  /** Monotonic per-(flag, variant) counters of one service (undefined: the router never saw it). */
  flagMetrics(env: string, app: string): FlagMetrics | undefined;
  /** Each listed instance's own latency histogram (see core/analysis/warmup.ts). */
  instanceLatency(ids: Iterable<string>): Record<string, LatencyHistogram>;
  /** Prometheus text exposition of every service's counters. */
  renderPrometheus(): string;
  close(): Promise<void>;
}
