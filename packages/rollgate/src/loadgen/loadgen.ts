/**
 * Open-loop synthetic traffic over keep-alive connections, used by the demo and the cutover
 * benchmark. Requests are issued at a fixed rate whatever the latency (so a stall shows as
 * failures or queueing, not as a politely slower client), with a share of slow requests.
 * Every request that does not end in a 2xx is counted as failed, with its reason.
 * Loopback targets only; it stops by itself after `durationMs` or `maxRequests`.
 */
import { Agent, request } from 'undici';

export interface LoadOptions {
  url: string;
  ratePerSecond: number;
  /** Share (0..1) of requests sent to `/slow?ms=…` with a delay between slowMinMs and slowMaxMs. */
  slowShare?: number;
  slowMinMs?: number;
  slowMaxMs?: number;
  connections?: number;
  /** Upper bound on how long the generator runs (it also stops on stop()). */
  durationMs: number;
  maxRequests?: number;
  /** Requests still open when stopping get this long to finish. */
  graceMs?: number;
}

export interface PhaseStats {
  requests: number;
  failed: number;
  /** Responses per `x-app-version`. */
  byVersion: Record<string, number>;
  /** Failure reasons with counts (status codes or error codes). */
  reasons: Record<string, number>;
}

export class LoadGenerator {
  private readonly agent: Agent;
  private phase = 'default';
  private readonly stats = new Map<string, PhaseStats>();
  private timer: NodeJS.Timeout | null = null;
  private inFlight = 0;
  private issued = 0;
  private stopping = false;
  private done: Promise<void> | null = null;
  private readonly origin: string;

  constructor(private readonly o: LoadOptions) {
    const u = new URL(o.url);
    if (!['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname) && !u.hostname.startsWith('127.')) {
      throw new Error(`load generator only targets loopback addresses, not ${u.hostname}`);
    }
    this.origin = u.origin;
    this.agent = new Agent({ connections: o.connections ?? 64, pipelining: 1, keepAliveTimeout: 30_000 });
  }

  /** Requests issued from now on are counted under `name`. */
  setPhase(name: string): void {
    this.phase = name;
  }

  phaseStats(name: string): PhaseStats {
    return this.stats.get(name) ?? { requests: 0, failed: 0, byVersion: {}, reasons: {} };
  }

  allStats(): Record<string, PhaseStats> {
    return Object.fromEntries(this.stats);
  }

  start(): void {
    const startedAt = Date.now();
    // Issue by elapsed time, not by timer ticks: a late tick catches up instead of losing requests.
    this.done = new Promise((resolve) => {
      this.timer = setInterval(() => {
        const elapsed = Date.now() - startedAt;
        const expired = elapsed >= this.o.durationMs || (this.o.maxRequests !== undefined && this.issued >= this.o.maxRequests);
        if (this.stopping || expired) {
          clearInterval(this.timer!);
          this.timer = null;
          this.stopping = true;
          resolve();
          return;
        }
        const due = Math.floor((this.o.ratePerSecond * elapsed) / 1000);
        while (this.issued < due) this.fire();
      }, 5);
    });
  }

  /** Stops issuing, waits for open requests (bounded by graceMs), and closes connections. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.done;
    const deadline = Date.now() + (this.o.graceMs ?? 5000);
    while (this.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await this.agent.close().catch(() => undefined);
  }

  private fire(): void {
    this.issued++;
    const stats = this.bucket(this.phase);
    const slow = Math.random() < (this.o.slowShare ?? 0);
    const min = this.o.slowMinMs ?? 1000;
    const max = this.o.slowMaxMs ?? 2000;
    const path = slow ? `/slow?ms=${Math.round(min + Math.random() * (max - min))}` : '/';
    this.inFlight++;
    stats.requests++;
    request(this.origin + path, { dispatcher: this.agent, headersTimeout: 30_000, bodyTimeout: 30_000 })
      .then(async (res) => {
        await res.body.dump();
        const v = res.headers['x-app-version'];
        if (typeof v === 'string') stats.byVersion[v] = (stats.byVersion[v] ?? 0) + 1;
        if (res.statusCode < 200 || res.statusCode >= 300) this.fail(stats, `HTTP ${res.statusCode}`);
      })
      .catch((e: NodeJS.ErrnoException) => this.fail(stats, e.code ?? e.message))
      .finally(() => this.inFlight--);
  }

  private fail(stats: PhaseStats, reason: string): void {
    stats.failed++;
    stats.reasons[reason] = (stats.reasons[reason] ?? 0) + 1;
  }

  private bucket(name: string): PhaseStats {
    let s = this.stats.get(name);
    if (!s) {
      s = { requests: 0, failed: 0, byVersion: {}, reasons: {} };
      this.stats.set(name, s);
    }
    return s;
  }
}
