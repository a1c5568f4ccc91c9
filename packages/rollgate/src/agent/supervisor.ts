/**
 * The agent's process supervisor: per service (env × app) it converges the running instances
 * to the desired versions and replicas, reports what it observes, and tells its owner (the
 * agent, which updates the router) whenever an instance changes state.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { InstanceObserved, ServiceKey, VersionDesired, VersionObserved } from '../core/dataplane.js';
import type { LogLine } from '../core/dataplane-schema.js';
import { DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
import { Coalescer } from './coalesce.js';
import { Instance, killGroup, quoteOutput, type InstanceHost, type StartFailure } from './instance.js';
import type { SecretMasker } from '../core/secret-masker.js';
import { InstanceLog, followServiceLogs, readServiceLogs, serviceLogDir, type LogQuery } from './logs.js';
import { instancesFilePath, PidRegistry, reapOrphans } from './orphans.js';
import { allocatePort, DEFAULT_PORT_RANGE, type PortRange } from './ports.js';
import type { Backend } from './router-types.js';
import { PlainLaunch } from '../isolation/plain.js';
import { ResourceSampler } from './resources.js';
import type { Isolation } from '../isolation/types.js';

/** Instances listen on loopback only: their router is on the same host. */
const INSTANCE_HOST = '127.0.0.1';

export interface SupervisorOptions {
  /** Logs go to `<dataDir>/logs/<env>/<app>/<instance>.log`. */
  dataDir: string;
  /** Requests in flight to an instance (answered by the router); drain waits for 0. */
  inFlight?: (instanceId: string) => number;
  /** Whether the router ejected an instance (shown as state `ejected`). */
  isEjected?: (instanceId: string) => boolean;
  /**
   * Called (coalesced, promptly) after instances of a service change state. A draining instance
   * waits for the returned promise before counting in-flight requests, so update the router here.
   */
  onChange?: (key: ServiceKey) => void | Promise<void>;
  /** Called at once on every instance state change (for event streams). */
  onInstance?: (key: ServiceKey, instance: InstanceObserved) => void;
  backoff?: Partial<BackoffOptions>;
  /** Crashes before first readiness after which a new version is marked failed. */
  maxStartAttempts?: number;
  portRange?: PortRange;
  /** Variables of the agent's own environment passed to instances. */
  inheritEnv?: string[];
  /** The known secret values of a service, masked in its instances' captured output. */
  maskerOf?: (key: ServiceKey) => SecretMasker | null;
  /** How instances are isolated; default none (the agent passes what it detected). */
  isolation?: Isolation;
  /** How often each instance's CPU and memory are sampled (default 1000 ms; 0: never). */
  resourceSampleMs?: number;
}

interface VersionSlot {
  desired: VersionDesired;
  hash: string;
  /** No longer desired: drain everything, then forget the slot. */
  removed: boolean;
  failed: boolean;
  failureReason: string | null;
  /** Some instance of this spec has been ready once: later failures are retried, never fatal. */
  everReady: boolean;
  instances: Instance[];
}

interface ServiceSlot {
  key: ServiceKey;
  versions: Map<string, VersionSlot>;
  /** Next instance number per version; never reused while the agent runs. */
  counters: Map<string, number>;
  notifier: Coalescer;
  host: InstanceHost;
}

const keyOf = (k: ServiceKey) => `${k.env}/${k.app}`;
const first = <T>(set: Set<T>): T | undefined => set.values().next().value;

/** Keys the spec hash: env holds secret values, and a hash of them must not be guessable offline. */
const HASH_KEY = randomBytes(32);

/** What makes an instance a different program: changing any of it replaces instances. */
function specHash(v: VersionDesired): string {
  const env = Object.keys(v.env)
    .sort()
    .map((k) => [k, v.env[k]]);
  return createHmac('sha256', HASH_KEY).update(JSON.stringify([v.releaseId, v.dir, v.command, v.portEnv, env, v.isolation ?? 'preferred'])).digest('hex').slice(0, 16);
}

const STOP_RANK: Record<string, number> = { failed: 0, crashed: 0, stopped: 0, starting: 1, unhealthy: 2, ejected: 2, draining: 3, ready: 3 };

export class Supervisor {
  private readonly services = new Map<string, ServiceSlot>();
  private readonly usedPorts = new Set<number>();
  private readonly backoff: BackoffOptions;
  private readonly maxStartAttempts: number;
  private closing = false;
  private readonly pids: PidRegistry;
  readonly isolation: Isolation;
  readonly resources: ResourceSampler;

  constructor(private readonly opts: SupervisorOptions) {
    this.backoff = { ...DEFAULT_BACKOFF, ...opts.backoff };
    this.maxStartAttempts = opts.maxStartAttempts ?? 3;
    this.pids = new PidRegistry(instancesFilePath(opts.dataDir));
    this.isolation = opts.isolation ?? new PlainLaunch();
    const every = opts.resourceSampleMs ?? 1000;
    this.resources = new ResourceSampler({ instances: () => this.allInstances().map((i) => ({ id: i.id, pid: i.pid })), intervalMs: every || 1000 });
    if (every > 0) this.resources.start();
  }

  private allInstances(): Instance[] {
    return [...this.services.values()].flatMap((svc) => [...svc.versions.values()].flatMap((s) => s.instances));
  }

  /**
   * Kills instances a previous agent on this data dir left running (it died without stopping
   * them). Call once before the first reconcile. Returns the reaped instance ids.
   */
  reapOrphans(): Promise<string[]> {
    return reapOrphans(instancesFilePath(this.opts.dataDir));
  }

  /** Converges one service to `versions`. Idempotent; returns at once (processes start in the background). */
  reconcile(key: ServiceKey, versions: VersionDesired[]): void {
    if (this.closing) return;
    const svc = this.service(key);
    const listed = new Set<string>();
    for (const v of versions) {
      listed.add(v.version);
      const hash = specHash(v);
      const slot = svc.versions.get(v.version);
      if (!slot) {
        svc.versions.set(v.version, { desired: v, hash, removed: false, failed: false, failureReason: null, everReady: false, instances: [] });
        continue;
      }
      if (slot.hash !== hash) {
        // A new program for this version: start replacements, keep the old ones until they are ready.
        for (const i of slot.instances) i.superseded = true;
        Object.assign(slot, { hash, failed: false, failureReason: null, everReady: false });
      } else if (slot.removed) {
        // Listed again after removal: a fresh chance even if it had failed.
        Object.assign(slot, { failed: false, failureReason: null });
      }
      slot.removed = false;
      slot.desired = v;
      for (const i of slot.instances) if (!i.superseded) i.updateSpec(v);
    }
    for (const [name, slot] of svc.versions) if (!listed.has(name)) slot.removed = true;
    this.converge(svc);
    svc.notifier.kick();
  }

  /** Drains and stops every instance of a service, then forgets it. */
  async remove(key: ServiceKey): Promise<void> {
    const svc = this.services.get(keyOf(key));
    if (!svc) return;
    this.reconcile(key, []);
    const all = [...svc.versions.values()].flatMap((s) => s.instances);
    await Promise.all(all.map((i) => i.stop()));
    const still = [...svc.versions.values()].some((s) => !s.removed || s.instances.length > 0);
    if (!still && this.services.get(keyOf(key)) === svc) {
      svc.notifier.close();
      this.services.delete(keyOf(key));
    }
  }

  /**
   * Tells the owner now (coalesced with pending changes) and resolves once `onChange` has run:
   * after a declaration, the caller can await the router being up to date.
   */
  notify(key: ServiceKey): Promise<void> {
    const svc = this.services.get(keyOf(key));
    if (svc) return svc.notifier.request();
    return Promise.resolve(this.opts.onChange?.(key));
  }

  /** The service and current observation of one instance by id, if it is known. */
  findInstance(id: string): { key: ServiceKey; instance: InstanceObserved } | null {
    for (const svc of this.services.values()) {
      for (const slot of svc.versions.values()) {
        const inst = slot.instances.find((i) => i.id === id);
        if (inst) return { key: svc.key, instance: this.observeInstance(inst) };
      }
    }
    return null;
  }

  has(key: ServiceKey): boolean {
    return this.services.has(keyOf(key));
  }

  keys(): ServiceKey[] {
    return [...this.services.values()].map((s) => s.key);
  }

  observe(key: ServiceKey): VersionObserved[] {
    const svc = this.services.get(keyOf(key));
    if (!svc) return [];
    const out: VersionObserved[] = [];
    for (const [version, slot] of svc.versions) {
      const instances = slot.instances.map((i) => this.observeInstance(i));
      out.push({
        version,
        releaseId: slot.desired.releaseId,
        desiredReplicas: slot.removed ? 0 : slot.desired.replicas,
        ready: instances.filter((i) => i.state === 'ready').length,
        instances,
        failed: slot.failed,
        failureReason: slot.failureReason,
      });
    }
    return out;
  }

  /** Instances in rotation per version (ready; not starting, unhealthy or draining). */
  ready(key: ServiceKey): Record<string, Backend[]> {
    const svc = this.services.get(keyOf(key));
    const out: Record<string, Backend[]> = {};
    if (!svc) return out;
    for (const [version, slot] of svc.versions) {
      const list: Backend[] = [];
      for (const i of slot.instances) if (i.state === 'ready') list.push({ id: i.id, version, host: INSTANCE_HOST, port: i.port });
      if (list.length > 0 || !slot.removed) out[version] = list;
    }
    return out;
  }

  logs(key: ServiceKey, q: LogQuery): Promise<LogLine[]> {
    return readServiceLogs(this.opts.dataDir, key, q);
  }

  /** New log lines of a service as they are written; returns the unsubscribe function. */
  followLogs(key: ServiceKey, q: Omit<LogQuery, 'tail'>, onLine: (line: LogLine) => void): () => void {
    return followServiceLogs(this.opts.dataDir, key, q, onLine);
  }

  /**
   * Chaos: SIGKILLs the process group of one running instance of `version` (a ready one when there
   * is one). Nothing marks the exit as expected, so the instance handles it as a crash and is
   * restarted with backoff. Returns the instance as it was, or null when none has a process.
   */
  killInstance(key: ServiceKey, version: string): InstanceObserved | null {
    const slot = this.services.get(keyOf(key))?.versions.get(version);
    if (!slot) return null;
    const alive = slot.instances.filter((i) => !i.retiring && i.pid !== null);
    const victim = alive.find((i) => i.state === 'ready') ?? alive[0];
    if (!victim || victim.pid === null) return null;
    const before = this.observeInstance(victim);
    killGroup(victim.pid, 'SIGKILL');
    return before;
  }

  /** Gracefully stops every instance; SIGKILLs what is left at `timeoutMs`. */
  async shutdown(timeoutMs = 15_000): Promise<void> {
    this.closing = true;
    this.resources.stop();
    const deadline = Date.now() + timeoutMs;
    const all = this.allInstances();
    await Promise.all(all.map((i) => i.stop(deadline)));
    await Promise.all(all.map((i) => i.log.close()));
    for (const svc of this.services.values()) svc.notifier.close();
  }

  private observeInstance(i: Instance): InstanceObserved {
    const ejected = i.state === 'ready' && (this.opts.isEjected?.(i.id) ?? false);
    // A sample of a process that has since exited is not what runs now.
    const resources = i.pid === null ? undefined : this.resources.get(i.id, i.pid);
    return {
      id: i.id,
      version: i.version,
      port: i.port,
      // Where the instance answers: the address a router (this host's or another) sends its requests to.
      ...(i.port > 0 ? { endpoint: `${INSTANCE_HOST}:${i.port}` } : {}),
      pid: i.pid,
      state: ejected ? 'ejected' : i.state,
      restarts: i.restarts,
      startedAt: i.startedAt,
      readyAt: i.readyAt,
      lastError: i.lastError,
      inFlight: this.opts.inFlight?.(i.id) ?? 0,
      ...(resources ? { resources } : {}),
    };
  }

  private service(key: ServiceKey): ServiceSlot {
    const k = keyOf(key);
    let svc = this.services.get(k);
    if (svc) return svc;
    const frozenKey = { env: key.env, app: key.app };
    const notifier = new Coalescer(
      () => this.opts.onChange?.(frozenKey),
      (e) => process.stderr.write(`rollgate agent: updating ${k} failed: ${String(e)}\n`),
    );
    const self = this;
    const host: InstanceHost = {
      key: frozenKey,
      backoff: this.backoff,
      inheritEnv: this.opts.inheritEnv ?? ['PATH', 'HOME'],
      isolation: this.isolation,
      changed: (inst, stateChanged) => self.instanceChanged(svc!, inst, stateChanged),
      startFailed: (inst, kind, message) => self.startFailed(svc!, inst, kind, message),
      becameReady: (inst) => {
        const slot = svc!.versions.get(inst.version);
        if (slot && !inst.superseded) slot.everReady = true;
      },
      allocatePort: async () => {
        const port = await allocatePort(this.usedPorts, this.opts.portRange ?? DEFAULT_PORT_RANGE);
        this.usedPorts.add(port);
        return port;
      },
      releasePort: (port) => this.usedPorts.delete(port),
      processStarted: (inst, pgid) => this.pids.add(inst.id, pgid),
      processEnded: (inst, pgid) => this.pids.remove(inst.id, pgid),
      inFlight: (id) => this.opts.inFlight?.(id) ?? 0,
      syncRouter: () => notifier.request(),
    };
    svc = { key: frozenKey, versions: new Map(), counters: new Map(), notifier, host };
    this.services.set(k, svc);
    return svc;
  }

  private instanceChanged(svc: ServiceSlot, inst: Instance, stateChanged: boolean): void {
    if (stateChanged) {
      try {
        this.opts.onInstance?.(svc.key, this.observeInstance(inst));
      } catch {
        // a listener's problem must not break supervision
      }
    }
    if (inst.state === 'stopped') {
      const slot = svc.versions.get(inst.version);
      if (slot) slot.instances = slot.instances.filter((i) => i !== inst);
      void inst.log.close();
    }
    this.converge(svc);
    svc.notifier.kick();
  }

  private startFailed(svc: ServiceSlot, inst: Instance, kind: StartFailure, message: string): boolean {
    const slot = svc.versions.get(inst.version);
    if (!slot || inst.superseded || slot.everReady) return false; // a version that once served is retried, never given up
    const attempts = inst.startFailures;
    const giveUp = kind === 'fatal' || kind === 'timeout' || attempts >= this.maxStartAttempts;
    if (giveUp && !slot.failed) {
      slot.failed = true;
      const tries = attempts === 1 ? '1 attempt' : `${attempts} attempts`;
      slot.failureReason = `instance ${inst.id} ${message} (${tries}): ${quoteOutput(inst.log.lastLines())}`;
    }
    return giveUp;
  }

  private converging = false;
  private readonly dirty = new Set<ServiceSlot>();

  /** Starts missing and stops surplus instances; re-entrant calls are folded into further passes. */
  private converge(svc: ServiceSlot): void {
    if (this.closing) return;
    this.dirty.add(svc);
    if (this.converging) return;
    this.converging = true;
    try {
      for (let next = first(this.dirty); next; next = first(this.dirty)) {
        this.dirty.delete(next);
        if (this.services.get(keyOf(next.key)) === next) this.convergeOnce(next);
      }
    } finally {
      this.converging = false;
    }
  }

  private convergeOnce(svc: ServiceSlot): void {
    for (const [version, slot] of svc.versions) {
      const live = slot.instances.filter((i) => !i.retiring);
      if (slot.removed) {
        for (const i of live) void i.stop();
        if (slot.instances.length === 0) svc.versions.delete(version);
        continue;
      }
      const target = slot.desired.replicas;
      const fresh = live.filter((i) => !i.superseded);
      if (!slot.failed) {
        while (fresh.length < target) fresh.push(this.spawn(svc, slot));
      }
      const byStopPreference = (list: Instance[]) =>
        [...list].sort((a, b) => (STOP_RANK[a.state] ?? 0) - (STOP_RANK[b.state] ?? 0) || slot.instances.indexOf(b) - slot.instances.indexOf(a));
      if (fresh.length > target) {
        for (const i of byStopPreference(fresh).slice(0, fresh.length - target)) void i.stop();
      }
      // Superseded instances keep serving until enough replacements are ready; those not serving go now.
      const old = live.filter((i) => i.superseded);
      for (const i of old) if (i.state !== 'ready') void i.stop();
      const oldReady = old.filter((i) => i.state === 'ready');
      const readyFresh = fresh.filter((i) => !i.retiring && i.state === 'ready').length;
      const keep = Math.max(0, target - readyFresh);
      if (oldReady.length > keep) {
        for (const i of byStopPreference(oldReady).slice(0, oldReady.length - keep)) void i.stop();
      }
    }
  }

  private spawn(svc: ServiceSlot, slot: VersionSlot): Instance {
    const version = slot.desired.version;
    const n = (svc.counters.get(version) ?? 0) + 1;
    svc.counters.set(version, n);
    const id = `${svc.key.app}-${svc.key.env}-${version}-${n}`;
    const log = new InstanceLog(serviceLogDir(this.opts.dataDir, svc.key), id, version, this.opts.maskerOf?.(svc.key) ?? null);
    const inst = new Instance(svc.host, id, slot.desired, log);
    slot.instances.push(inst);
    inst.start();
    return inst;
  }
}

