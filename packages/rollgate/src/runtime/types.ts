import type { InstanceObserved, ServiceDesired, ServiceKey, ServiceObserved } from '../core/dataplane.js';
import type { LogLine } from '../api/contract.js';

/** What a Runtime is told for one service: its listener, hosts and versions (routes go to the TrafficProvider). */
export type ServiceDeclaration = Omit<ServiceDesired, 'routes'>;

/**
 * Makes instances of given versions exist with given replicas and reports their health.
 * Implementations: local agent (runtime/local-agent.ts); Kubernetes later.
 */
export interface Runtime {
  readonly name: string;
  /** Converge the service to the declaration (idempotent). */
  apply(decl: ServiceDeclaration): Promise<ServiceObserved>;
  /** What runs now; null when the runtime does not know the service. */
  observe(key: ServiceKey): Promise<ServiceObserved | null>;
  observeAll(): Promise<ServiceObserved[]>;
  logs(key: ServiceKey, opts: { version?: string | undefined; instance?: string | undefined; tail: number }): Promise<LogLine[]>;
  /**
   * New log lines as they are written, until `signal` aborts or the runtime ends the stream.
   * `onOpen` once following has begun (lines written after it all arrive). Absent: no live logs.
   */
  followLogs?(key: ServiceKey, opts: { version?: string | undefined; instance?: string | undefined }, onLine: (line: LogLine) => void, ctl: { signal: AbortSignal; onOpen?: () => void }): Promise<void>;
  /** Calls back whenever an instance changes state; returns an unsubscribe function. */
  watch(onChange: (change: InstanceChange) => void): () => void;
  close(): Promise<void>;
}

export interface InstanceChange extends ServiceKey {
  instance: InstanceObserved;
}
