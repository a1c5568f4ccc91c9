/**
 * Chaos experiments: rehearse failures on purpose. A fault makes the router fail a share of one
 * version's requests and slow them down, for a bounded time; a kill SIGKILLs one instance (the
 * agent restarts it as after a crash). Each experiment is recorded before the agent is asked,
 * is time-limited (the agent lapses a fault by itself, so a dead control plane never leaves one
 * on), and `stop` undoes it. Every change emits `chaos.started` / `chaos.stopped`.
 */
import { randomBytes } from 'node:crypto';
import type { ServiceKey, ServiceObserved } from '../core/dataplane.js';
import { FAULT_LIMITS, type FaultObserved, type KillResult, type PutFaultBody } from '../core/dataplane-schema.js';
import { formatDuration } from '../core/duration.js';
import { errorMessage, RollgateError } from '../core/errors.js';
import type { ChaosFilter, ChaosRecord } from '../core/incidents.js';
import type { Store } from '../store/types.js';
import type { EventBus } from './events.js';
import { silentLogger, type Logger } from './logger.js';

/** What chaos needs of the data plane; the agent's client (AgentClient) is one. */
export interface ChaosAgent {
  findService(key: ServiceKey): Promise<ServiceObserved | null>;
  setFault(key: ServiceKey, version: string, fault: PutFaultBody): Promise<FaultObserved>;
  clearFaults(key: ServiceKey, version?: string): Promise<number>;
  killInstance(key: ServiceKey, version: string): Promise<KillResult>;
}

export interface ChaosDeps {
  store: Store;
  events: EventBus;
  agent: ChaosAgent;
  log?: Logger;
  now?: () => number;
  /** Safety net besides the per-experiment timers (several servers, clock jumps). */
  sweepMs?: number;
}

export interface InjectRequest {
  app: string;
  env: string;
  version: string;
  /** Share of requests failed with 503, 0..1. */
  errorRate: number;
  latencyMs: number;
  durationMs: number;
}

export interface KillRequest {
  app: string;
  env: string;
  version: string;
}

export interface StopResult {
  stopped: ChaosRecord[];
  /** Faults the agent still had in force and cleared. */
  cleared: number;
}

export const CHAOS_ID_RE = /^chaos-[0-9a-f]{12}$/;
export const MIN_DURATION_MS = 100;

export class Chaos {
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private sweeper: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly d: ChaosDeps) {
    this.log = d.log ?? silentLogger;
    this.now = d.now ?? Date.now;
  }

  /** Expires what ended while no server ran, and arms a timer for each active fault. */
  async start(): Promise<void> {
    this.closed = false;
    await this.expire();
    for (const c of await this.d.store.listChaos({ status: 'active', limit: 1000 })) this.arm(c);
    this.sweeper = setInterval(() => void this.expireQuietly(), this.d.sweepMs ?? 30_000);
    this.sweeper.unref();
  }

  close(): void {
    this.closed = true;
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  /**
   * Starts a fault on one running version: checks the request (nothing is recorded when it is
   * refused), replaces the version's active fault if any, records, then tells the agent.
   */
  async inject(req: InjectRequest, actor: string): Promise<ChaosRecord> {
    validateFault(req);
    await this.requireRunning(req, 'ready');
    const at = this.now();
    const atIso = new Date(at).toISOString();
    const id = newChaosId();
    for (const old of await this.d.store.stopActiveChaos(req.app, req.env, req.version, atIso, `replaced by ${id}`)) {
      this.disarm(old.id);
      await this.emitStopped(old, 'replaced');
    }
    let rec = await this.d.store.createChaos({
      id,
      app: req.app,
      env: req.env,
      version: req.version,
      kind: 'fault',
      errorRate: req.errorRate,
      latencyMs: req.latencyMs,
      status: 'active',
      startedAt: atIso,
      endsAt: new Date(at + req.durationMs).toISOString(),
      stoppedAt: null,
      actor,
      detail: null,
    });
    try {
      const applied = await this.d.agent.setFault(key(req), req.version, { errorRate: req.errorRate, latencyMs: req.latencyMs, durationMs: req.durationMs });
      rec = (await this.d.store.updateActiveChaos(id, { detail: `in force on the agent until ${applied.until}` })) ?? rec;
    } catch (e) {
      await this.d.store.updateActiveChaos(id, { status: 'stopped', stoppedAt: new Date(this.now()).toISOString(), detail: `the agent did not apply it: ${errorMessage(e)}` });
      // It may have been applied after all (a timeout): take it back, best effort.
      await this.d.agent.clearFaults(key(req), req.version).catch(() => 0);
      throw e;
    }
    await this.d.events.emit({
      type: 'chaos.started',
      app: rec.app,
      env: rec.env,
      data: { id: rec.id, kind: 'fault', version: rec.version, errorRate: rec.errorRate, latencyMs: rec.latencyMs, endsAt: rec.endsAt, actor },
    });
    this.log.warn('chaos fault injected', { id: rec.id, app: rec.app, env: rec.env, version: rec.version, errorRate: rec.errorRate, latencyMs: rec.latencyMs, endsAt: rec.endsAt, actor });
    this.arm(rec);
    return rec;
  }

  /** SIGKILLs one instance of a running version; recorded, and over at once (the agent restarts it). */
  async kill(req: KillRequest, actor: string): Promise<ChaosRecord> {
    await this.requireRunning(req, 'alive');
    const atIso = new Date(this.now()).toISOString();
    const id = newChaosId();
    const rec = await this.d.store.createChaos({
      id,
      app: req.app,
      env: req.env,
      version: req.version,
      kind: 'kill',
      errorRate: 0,
      latencyMs: 0,
      status: 'active',
      startedAt: atIso,
      endsAt: atIso,
      stoppedAt: null,
      actor,
      detail: null,
    });
    let result: KillResult;
    try {
      result = await this.d.agent.killInstance(key(req), req.version);
    } catch (e) {
      await this.d.store.updateActiveChaos(id, { status: 'stopped', stoppedAt: new Date(this.now()).toISOString(), detail: `the agent did not kill: ${errorMessage(e)}` });
      throw e;
    }
    const detail = `killed instance ${result.killed.id} (pid ${result.killed.pid ?? '?'}) with SIGKILL; the agent restarts it`;
    const done = (await this.d.store.updateActiveChaos(id, { status: 'expired', stoppedAt: new Date(this.now()).toISOString(), detail })) ?? rec;
    await this.d.events.emit({ type: 'chaos.started', app: done.app, env: done.env, data: { id, kind: 'kill', version: done.version, instance: result.killed.id, actor } });
    await this.emitStopped(done, 'done');
    this.log.warn('chaos kill', { id, app: done.app, env: done.env, version: done.version, instance: result.killed.id, actor });
    return done;
  }

  /**
   * Ends the active experiments of a service (one version, or all) and clears the agent's faults
   * for it, also ones the records no longer know of. The records are stopped even when the agent
   * cannot be reached (then agent_unreachable says when its faults lapse by themselves).
   */
  async stop(app: string, env: string, version: string | null, actor: string): Promise<StopResult> {
    const atIso = new Date(this.now()).toISOString();
    const stopped = await this.d.store.stopActiveChaos(app, env, version, atIso, `stopped by ${actor}`);
    for (const s of stopped) {
      this.disarm(s.id);
      await this.emitStopped(s, 'stopped', actor);
    }
    let cleared: number;
    try {
      cleared = await this.d.agent.clearFaults({ app, env }, version ?? undefined);
    } catch (e) {
      const lapse = stopped.reduce((m, s) => (s.endsAt > m ? s.endsAt : m), '');
      throw new RollgateError(
        'agent_unreachable',
        `chaos on ${app} in ${env} is stopped in the record, but the agent could not be told (${errorMessage(e)}); its faults lapse by themselves${lapse ? ` by ${lapse}` : ''}`,
      );
    }
    if (stopped.length > 0 || cleared > 0) this.log.info('chaos stopped', { app, env, version, actor, stopped: stopped.length, cleared });
    return { stopped, cleared };
  }

  /** Experiments, newest first; active ones past their end are marked expired first. */
  async list(filter: ChaosFilter): Promise<ChaosRecord[]> {
    await this.expire();
    return this.d.store.listChaos(filter);
  }

  /** Marks active experiments past endsAt expired (each exactly once, also with several servers). */
  async expire(): Promise<ChaosRecord[]> {
    const expired = await this.d.store.expireChaos(new Date(this.now()).toISOString());
    for (const c of expired) {
      this.disarm(c.id);
      await this.emitStopped(c, 'expired');
    }
    return expired;
  }

  private async expireQuietly(): Promise<void> {
    try {
      await this.expire();
    } catch (e) {
      this.log.warn('could not expire chaos experiments; will retry', { error: errorMessage(e) });
    }
  }

  private arm(c: ChaosRecord): void {
    if (this.closed || c.status !== 'active') return;
    this.disarm(c.id);
    // setTimeout holds at most ~24.8 days; faults last at most an hour.
    const t = setTimeout(() => {
      this.timers.delete(c.id);
      void this.expireQuietly();
    }, Math.max(0, Date.parse(c.endsAt) - this.now()) + 5);
    t.unref();
    this.timers.set(c.id, t);
  }

  private disarm(id: string): void {
    const t = this.timers.get(id);
    if (t) clearTimeout(t);
    this.timers.delete(id);
  }

  private async emitStopped(c: ChaosRecord, reason: 'stopped' | 'expired' | 'replaced' | 'done', actor?: string): Promise<void> {
    await this.d.events.emit({ type: 'chaos.stopped', app: c.app, env: c.env, data: { id: c.id, kind: c.kind, version: c.version, reason, ...(actor ? { actor } : {}) } });
  }

  /** The app and environment must be known, and the version must run (with a ready instance, for a fault). */
  private async requireRunning(req: KillRequest, need: 'ready' | 'alive'): Promise<void> {
    const [a, e] = await Promise.all([this.d.store.getApp(req.app), this.d.store.getEnvironment(req.env)]);
    if (!a) throw new RollgateError('not_found', `unknown app "${req.app}"; known apps: ${(await this.d.store.listApps()).map((x) => x.name).join(', ') || 'none'}`);
    if (!e) throw new RollgateError('not_found', `unknown environment "${req.env}"; known environments: ${(await this.d.store.listEnvironments()).map((x) => x.name).join(', ') || 'none'}`);
    const svc = await this.d.agent.findService(key(req));
    if (!svc) throw new RollgateError('conflict', `${req.app} does not run in ${req.env}; deploy it first`);
    const v = svc.versions.find((x) => x.version === req.version);
    const running = svc.versions.filter((x) => x.desiredReplicas > 0 || x.ready > 0).map((x) => `${x.version} (${x.ready} ready)`);
    const ok = v && (need === 'ready' ? v.ready > 0 : v.instances.some((i) => i.pid !== null && i.state !== 'draining' && i.state !== 'stopped'));
    if (!ok) {
      throw new RollgateError('conflict', `${req.app} ${req.version} is not running in ${req.env}${v ? ' (no instance is up right now)' : ''}; running: ${running.join(', ') || 'nothing'}`);
    }
  }
}

/** Refuses a fault outside the limits with a message in the units the CLI takes. */
export function validateFault(req: Pick<InjectRequest, 'errorRate' | 'latencyMs' | 'durationMs'>): void {
  const problems: string[] = [];
  if (!Number.isFinite(req.errorRate) || req.errorRate < 0 || req.errorRate > 1) problems.push(`error rate must be from 0% to 100% (got ${String(req.errorRate * 100)}%)`);
  if (!Number.isInteger(req.latencyMs) || req.latencyMs < 0 || req.latencyMs > FAULT_LIMITS.maxLatencyMs) problems.push(`latency must be from 0ms to 60s (got ${formatMs(req.latencyMs)})`);
  if (!Number.isInteger(req.durationMs) || req.durationMs < MIN_DURATION_MS || req.durationMs > FAULT_LIMITS.maxDurationMs) problems.push(`duration must be from ${MIN_DURATION_MS}ms to 1h (got ${formatMs(req.durationMs)})`);
  if (problems.length === 0 && req.errorRate === 0 && req.latencyMs === 0) problems.push('a fault needs an error rate above 0% or a latency above 0ms');
  if (problems.length > 0) throw new RollgateError('invalid_input', `chaos fault refused: ${problems.join('; ')}`);
}

function formatMs(ms: number): string {
  return Number.isFinite(ms) && ms >= 0 ? formatDuration(ms) : String(ms);
}

function key(r: { app: string; env: string }): ServiceKey {
  return { env: r.env, app: r.app };
}

export function newChaosId(): string {
  return `chaos-${randomBytes(6).toString('hex')}`;
}
