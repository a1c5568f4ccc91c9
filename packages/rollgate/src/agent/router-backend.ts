/**
 * What the router keeps per backend (instance): its connection pool, in-flight count and
 * outlier state. One object per backend id, shared by every table that lists it, so
 * requests in progress keep counting correctly across table swaps.
 */
import type { OutlierSubject } from './outlier.js';
import { InstanceLatency } from './metrics.js';
import { UpstreamPool, type Clock } from './router-pool.js';

export class BackendState implements OutlierSubject {
  inFlight = 0;
  consecutiveFailures = 0;
  ejected = false;
  probation = false;
  ejections = 0;
  lastEjectionEnd = 0;
  readmitTimer: NodeJS.Timeout | null = null;
  readonly pool: UpstreamPool;
  /** This instance's own latency (monotonic while the backend is known). */
  readonly latency = new InstanceLatency();

  constructor(
    readonly id: string,
    readonly version: string,
    readonly host: string,
    readonly port: number,
    clock: Clock,
  ) {
    this.pool = new UpstreamPool(host, port, clock);
  }
}
