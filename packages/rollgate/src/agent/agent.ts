/**
 * The data-plane agent: wires the supervisor (instances) to the router (traffic), keeps the
 * last desired state of every service on disk, and streams instance events. The HTTP API
 * (api.ts) is a thin shell over this class.
 *
 * Secrets: a service's secret values arrive with its declaration (or by `putSecrets`), stay in
 * memory only, are added to every instance's environment, and are masked in captured output.
 * After a restart the agent knows the names only (from its state file) and starts no instance
 * of such a service until the control plane sends the values again.
 */
import type { InstanceObserved, RouteSpec, ServiceKey, ServiceObserved, VersionDesired, VersionObserved } from '../core/dataplane.js';
import type { AgentEvent, FaultObserved, KillResult, LogLine, PutFaultBody, PutSecretsBody, PutServiceBody } from '../core/dataplane-schema.js';
import { errorMessage, RollgateError } from '../core/errors.js';
import { Faults } from './faults.js';
import type { DataRouter, RouterOptions } from './router-types.js';
import { desiredStatePath, readDesiredState, writeDesiredState, type DesiredService } from './state-file.js';
import { Supervisor, type SupervisorOptions } from './supervisor.js';
import { renderInstanceResources, type InstanceResourceEntry } from './prometheus.js';
import { SecretMasker } from '../core/secret-masker.js';
import type { LogQuery } from './logs.js';
import { detectIsolation, type IsolationChoice } from '../isolation/detect.js';
import { isIsolated } from '../isolation/types.js';

export interface AgentOptions {
  dataDir: string;
  /** Builds the router; the agent adds its own `onBackendState` (ejections become events). */
  createRouter: (opts: RouterOptions) => DataRouter;
  routerOptions?: RouterOptions;
  /** Supervisor tuning (backoff, start attempts, port range) — mostly for tests. */
  supervisor?: Pick<SupervisorOptions, 'backoff' | 'maxStartAttempts' | 'portRange' | 'inheritEnv'>;
  /** Bound on a graceful stop of every instance at shutdown. */
  shutdownTimeoutMs?: number;
  /** Structured log sink (one object per line); default: JSON lines on stderr. */
  log?: (entry: Record<string, unknown>) => void;
  /** How to isolate instances: `auto` (default: the strongest this host offers) or a kind to insist on. */
  isolation?: IsolationChoice;
  /** Directories instances must not see besides the agent's data directory (the server's, when apart). */
  hide?: string[];
}

const keyOf = (k: ServiceKey) => `${k.env}/${k.app}`;

function defaultLog(entry: Record<string, unknown>): void {
  process.stderr.write(JSON.stringify({ at: new Date().toISOString(), component: 'agent', ...entry }) + '\n');
}

export class Agent {
  readonly startedAt = new Date().toISOString();
  /** Injected faults (chaos); the router asks `faults.decide` per request. Initialised before the router is built. */
  readonly faults = new Faults();
  readonly router: DataRouter;
  readonly supervisor: Supervisor;
  private readonly desired = new Map<string, DesiredService>();
  /** Deleted services whose instances are still draining. */
  private readonly removing = new Map<string, DesiredService>();
  /** Where each environment's listener is open. */
  private readonly listeners = new Map<string, { host: string; port: number }>();
  private readonly subscribers = new Set<(e: AgentEvent) => void>();
  /** Instances that started draining: their idle router connections are released after the next router update. */
  private readonly toRelease = new Map<string, Set<string>>();
  /** Secret values per service, given since this agent started. Never written anywhere. */
  private readonly secretValues = new Map<string, Record<string, string>>();
  /** Every secret value each service was ever given (old ones too: running instances may still print them). */
  private readonly maskers = new Map<string, SecretMasker>();
  private readonly stateFile: string;
  private readonly log: (entry: Record<string, unknown>) => void;
  private queue: Promise<unknown> = Promise.resolve();
  private stopping: Promise<void> | null = null;

  constructor(private readonly opts: AgentOptions) {
    this.log = opts.log ?? defaultLog;
    this.stateFile = desiredStatePath(opts.dataDir);
    const userHook = opts.routerOptions?.onBackendState;
    this.router = opts.createRouter({
      ...opts.routerOptions,
      faults: this.faults,
      onBackendState: (id, ejected, reason) => {
        this.onBackendState(id, ejected, reason);
        userHook?.(id, ejected, reason);
      },
    });
    const isolation = detectIsolation({ hide: [opts.dataDir, ...(opts.hide ?? [])], choice: opts.isolation ?? 'auto' });
    if (!isIsolated(isolation.kind)) {
      this.log({ level: 'warn', msg: `INSTANCES ARE NOT ISOLATED: they run as this agent's OS user and can read its data directory (keys, tokens, database). Install bubblewrap (apt-get install bubblewrap) or run as root; production environments refuse to start unless their spec says isolation: none` });
    } else {
      this.log({ level: 'info', msg: `instances are isolated (${isolation.summary})` });
    }
    this.supervisor = new Supervisor({
      ...opts.supervisor,
      isolation,
      dataDir: opts.dataDir,
      inFlight: (id) => this.router.inFlight(id),
      isEjected: (id) => this.router.isEjected(id),
      onChange: (key) => this.syncRouter(key),
      onInstance: (key, inst) => this.onInstance(key, inst),
      maskerOf: (key) => this.maskerOf(key),
    });
  }

  /** Brings back the services saved by a previous run. */
  async start(): Promise<void> {
    const reaped = await this.supervisor.reapOrphans();
    if (reaped.length > 0) this.log({ level: 'warn', msg: `stopped ${reaped.length} instance(s) left running by a previous agent: ${reaped.join(', ')}` });
    const saved = readDesiredState(this.stateFile, (msg) => this.log({ level: 'warn', msg }));
    for (const svc of saved) {
      const key = { env: svc.env, app: svc.app };
      this.desired.set(keyOf(key), svc);
      try {
        await this.openListener(svc.env, svc.listenHost, svc.listenPort);
      } catch (e) {
        this.log({ level: 'error', msg: `cannot reopen the listener of ${svc.env} on ${svc.listenHost}:${svc.listenPort}: ${errorMessage(e)}`, env: svc.env, app: svc.app });
      }
      if (svc.secretNames.length > 0) {
        this.log({ level: 'warn', msg: `${svc.app} in ${svc.env} waits for its secrets (${svc.secretNames.join(', ')}) from the control plane before starting instances: secret values are never kept on disk`, env: svc.env, app: svc.app });
      }
      this.converge(key, svc);
      await this.supervisor.notify(key);
    }
    if (saved.length > 0) this.log({ level: 'info', msg: `restored ${saved.length} service(s) from ${this.stateFile}` });
  }

  /** Declares a service's versions (and optionally routes). Changes nothing if the listener cannot be opened. */
  putService(key: ServiceKey, body: PutServiceBody): Promise<ServiceObserved> {
    return this.exclusive(async () => {
      this.assertRunning();
      await this.openListener(key.env, body.listenHost, body.listenPort);
      const prev = this.desired.get(keyOf(key)) ?? this.removing.get(keyOf(key));
      const svc: DesiredService = {
        env: key.env,
        app: key.app,
        listenHost: body.listenHost,
        listenPort: body.listenPort,
        hosts: body.hosts,
        versions: body.versions,
        routes: body.routes ?? prev?.routes ?? null,
        secretNames: body.secretEnv ? Object.keys(body.secretEnv).sort() : (prev?.secretNames ?? []),
      };
      if (body.secretEnv) this.giveSecrets(key, body.secretEnv);
      this.desired.set(keyOf(key), svc);
      this.removing.delete(keyOf(key));
      // Every app of an environment shares its listener.
      for (const other of this.desired.values()) {
        if (other.env === key.env) Object.assign(other, { listenHost: body.listenHost, listenPort: body.listenPort });
      }
      this.persist();
      this.converge(key, svc);
      await this.supervisor.notify(key);
      return this.observe(key)!;
    });
  }

  /**
   * Supplies every secret of a declared service (names left out are gone). A service that was
   * waiting for its secrets starts; changed values replace its instances as any change of
   * environment does (replacements first, the old ones drain once those are ready).
   */
  putSecrets(key: ServiceKey, body: PutSecretsBody): Promise<ServiceObserved> {
    return this.exclusive(async () => {
      this.assertRunning();
      const svc = this.desired.get(keyOf(key));
      if (!svc) throw new RollgateError('not_found', `the agent runs no service ${key.app} in ${key.env}; declare it with PUT /v1/services/${key.env}/${key.app} first`);
      this.giveSecrets(key, body.secretEnv);
      svc.secretNames = Object.keys(body.secretEnv).sort();
      this.persist();
      this.converge(key, svc);
      await this.supervisor.notify(key);
      return this.observe(key)!;
    });
  }

  /** Replaces a service's routes. Versions without ready instances are accepted (the router falls back). */
  putRoutes(key: ServiceKey, routes: RouteSpec): Promise<ServiceObserved> {
    return this.exclusive(async () => {
      this.assertRunning();
      const svc = this.desired.get(keyOf(key));
      if (!svc) throw new RollgateError('not_found', `the agent runs no service ${key.app} in ${key.env}; declare it with PUT /v1/services/${key.env}/${key.app} first`);
      svc.routes = routes;
      this.persist();
      await this.supervisor.notify(key);
      return this.observe(key)!;
    });
  }

  /** Stops a service: its instances drain in the background, then its routes and (if unused) its listener go. */
  deleteService(key: ServiceKey): Promise<boolean> {
    return this.exclusive(async () => {
      const k = keyOf(key);
      const svc = this.desired.get(k);
      if (!svc) return false;
      this.desired.delete(k);
      this.removing.set(k, svc);
      // Values it no longer needs go; its masker stays, for the instances still draining.
      this.secretValues.delete(k);
      this.faults.clear(key);
      this.persist();
      void this.finishRemoval(key, svc);
      return true;
    });
  }

  observe(key: ServiceKey): ServiceObserved | null {
    const svc = this.desired.get(keyOf(key)) ?? this.removing.get(keyOf(key));
    if (!svc) return null;
    const versions = this.supervisor.observe(key);
    const awaiting = this.desired.get(keyOf(key)) === svc ? this.missingSecrets(svc) : [];
    if (awaiting.length > 0) {
      // Nothing runs yet: show what is wanted, and why it waits.
      const reason = `waiting for secret${awaiting.length === 1 ? '' : 's'} ${awaiting.join(', ')} from the control plane (the agent restarted; secret values are never kept on its disk); they are sent again when the server reconnects`;
      for (const v of svc.versions) if (!versions.some((o) => o.version === v.version)) versions.push(waitingVersion(v, reason));
    }
    return {
      env: svc.env,
      app: svc.app,
      listenPort: svc.listenPort,
      versions,
      routes: svc.routes,
      metrics: this.router.metrics(svc.env, svc.app),
      instanceLatency: this.router.instanceLatency(versions.flatMap((v) => v.instances.map((i) => i.id))),
      flagMetrics: this.router.flagMetrics(svc.env, svc.app),
      observedAt: new Date().toISOString(),
      awaitingSecrets: awaiting,
      isolation: svc.versions.length > 0 && svc.versions.every((v) => v.isolation === 'none') ? 'none' : this.supervisor.isolation.kind,
    };
  }

  list(): ServiceObserved[] {
    return [...this.desired.values()].map((s) => this.observe(s)!);
  }

  serviceCount(): number {
    return this.desired.size;
  }

  logs(key: ServiceKey, q: LogQuery): Promise<LogLine[]> {
    return this.supervisor.logs(key, q);
  }

  followLogs(key: ServiceKey, q: Omit<LogQuery, 'tail'>, onLine: (line: LogLine) => void): () => void {
    return this.supervisor.followLogs(key, q, onLine);
  }

  /** Instance state changes, as they happen. Returns the unsubscribe function. */
  subscribe(fn: (e: AgentEvent) => void): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  /** Sets the fault of one version for `durationMs`; the service and version must be declared. */
  setFault(key: ServiceKey, version: string, body: PutFaultBody): FaultObserved {
    this.assertRunning();
    this.requireVersion(key, version);
    const until = Date.now() + body.durationMs;
    this.faults.set(key, version, { errorRate: body.errorRate, latencyMs: body.latencyMs, until });
    this.log({ level: 'warn', msg: `chaos: fault on ${version}: ${Math.round(body.errorRate * 1000) / 10}% errors, +${body.latencyMs}ms for ${body.durationMs}ms`, env: key.env, app: key.app });
    return { env: key.env, app: key.app, version, errorRate: body.errorRate, latencyMs: body.latencyMs, until: new Date(until).toISOString() };
  }

  /** Clears one version's fault or all of the service's; returns how many were in force. */
  clearFaults(key: ServiceKey, version?: string): number {
    const n = this.faults.clear(key, version);
    if (n > 0) this.log({ level: 'info', msg: `chaos: cleared ${n} fault(s)${version ? ` on ${version}` : ''}`, env: key.env, app: key.app });
    return n;
  }

  listFaults(key?: ServiceKey): FaultObserved[] {
    return this.faults.list(key).map((f) => ({ env: f.env, app: f.app, version: f.version, errorRate: f.errorRate, latencyMs: f.latencyMs, until: new Date(f.until).toISOString() }));
  }

  /** Chaos: SIGKILLs one instance of the version; the supervisor restarts it as after a crash. */
  killInstance(key: ServiceKey, version: string): KillResult {
    this.assertRunning();
    this.requireVersion(key, version);
    const killed = this.supervisor.killInstance(key, version);
    if (!killed) throw new RollgateError('conflict', `${key.app} ${version} in ${key.env} has no running instance to kill right now; wait until one runs (rollgate status)`);
    this.log({ level: 'warn', msg: `chaos: killed instance ${killed.id} (pid ${killed.pid ?? '?'}) with SIGKILL`, env: key.env, app: key.app });
    return { killed, signal: 'SIGKILL' };
  }

  private requireVersion(key: ServiceKey, version: string): void {
    const svc = this.desired.get(keyOf(key));
    if (!svc) throw new RollgateError('not_found', `the agent runs no service ${key.app} in ${key.env}`);
    if (!svc.versions.some((v) => v.version === version)) {
      throw new RollgateError('not_found', `${key.app} in ${key.env} runs no version ${version}; it runs ${svc.versions.map((v) => v.version).join(', ') || 'no version'}`);
    }
  }

  renderPrometheus(): string {
    const resources: InstanceResourceEntry[] = [];
    for (const key of this.supervisor.keys()) {
      for (const v of this.supervisor.observe(key)) {
        for (const i of v.instances) if (i.resources) resources.push({ env: key.env, app: key.app, version: v.version, instance: i.id, cpuSeconds: i.resources.cpuSeconds, rssBytes: i.resources.rssBytes });
      }
    }
    return this.router.renderPrometheus() + renderInstanceResources(resources);
  }

  /** Stops every instance gracefully (bounded), then the router. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.queue.catch(() => undefined);
      await this.supervisor.shutdown(this.opts.shutdownTimeoutMs ?? 15_000);
      await this.router.close();
      this.subscribers.clear();
    })();
    return this.stopping;
  }

  private assertRunning(): void {
    if (this.stopping) throw new RollgateError('unavailable', 'the agent is shutting down; retry once it has restarted');
  }

  /** Mutations run one at a time so persisted state and the router never see interleaved updates. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private persist(): void {
    writeDesiredState(this.stateFile, [...this.desired.values()]);
  }

  private giveSecrets(key: ServiceKey, values: Record<string, string>): void {
    this.secretValues.set(keyOf(key), { ...values });
    this.maskerOf(key).addAll(values);
  }

  /** One masker per service, shared by all its instances' logs, so values given later are masked in them too. */
  private maskerOf(key: ServiceKey): SecretMasker {
    const k = keyOf(key);
    let masker = this.maskers.get(k);
    if (!masker) this.maskers.set(k, (masker = new SecretMasker()));
    return masker;
  }

  /** Names the service needs whose values this agent has not been given since it started. */
  private missingSecrets(svc: DesiredService): string[] {
    const have = this.secretValues.get(keyOf(svc)) ?? {};
    return svc.secretNames.filter((n) => !Object.hasOwn(have, n));
  }

  /**
   * Hands the supervisor the service's versions with its secrets in their environment, or
   * nothing at all while secrets are missing (no instance may start without them).
   */
  private converge(key: ServiceKey, svc: DesiredService): void {
    if (this.missingSecrets(svc).length > 0) return;
    const secrets = this.secretValues.get(keyOf(key));
    const versions = secrets && Object.keys(secrets).length > 0 ? svc.versions.map((v) => ({ ...v, env: { ...v.env, ...secrets } })) : svc.versions;
    this.supervisor.reconcile(key, versions);
  }

  /** Opens (or moves) an environment's listener; the router opens the new address before closing the old. */
  private async openListener(env: string, host: string, port: number): Promise<void> {
    await this.router.ensureListener(env, host, port);
    this.listeners.set(env, { host, port });
  }

  private async finishRemoval(key: ServiceKey, svc: DesiredService): Promise<void> {
    const k = keyOf(key);
    try {
      await this.supervisor.remove(key);
      if (this.removing.get(k) !== svc) return; // declared again meanwhile
      this.removing.delete(k);
      await this.router.removeService(key.env, key.app);
      const envInUse = [...this.desired.values(), ...this.removing.values()].some((s) => s.env === key.env);
      if (!envInUse && this.listeners.has(key.env)) {
        this.listeners.delete(key.env);
        await this.router.closeListener(key.env);
      }
    } catch (e) {
      this.log({ level: 'error', msg: `removing ${key.app} in ${key.env} failed: ${errorMessage(e)}`, env: key.env, app: key.app });
    }
  }

  /** Called by the supervisor (coalesced) after instance changes: the router gets the ready backends. */
  private async syncRouter(key: ServiceKey): Promise<void> {
    const k = keyOf(key);
    const svc = this.desired.get(k) ?? this.removing.get(k);
    if (!svc) return;
    await this.router.setService({ env: svc.env, app: svc.app, hosts: svc.hosts, routes: svc.routes, backends: this.supervisor.ready(key) });
    const ids = this.toRelease.get(k);
    if (ids) {
      this.toRelease.delete(k);
      for (const id of ids) this.router.releaseBackend(id);
    }
  }

  private onInstance(key: ServiceKey, instance: InstanceObserved): void {
    if (instance.state === 'draining') {
      const k = keyOf(key);
      let set = this.toRelease.get(k);
      if (!set) this.toRelease.set(k, (set = new Set()));
      set.add(instance.id);
    }
    if (instance.state === 'failed' || instance.state === 'crashed' || instance.state === 'unhealthy') {
      this.log({ level: 'warn', msg: `instance ${instance.id} ${instance.state}: ${instance.lastError ?? ''}`, env: key.env, app: key.app });
    }
    this.emit({ env: key.env, app: key.app, instance });
  }

  private onBackendState(id: string, ejected: boolean, reason: string): void {
    const found = this.supervisor.findInstance(id);
    this.log({ level: 'warn', msg: `router ${ejected ? 'ejected' : 'readmitted'} ${id}: ${reason}` });
    if (found) this.emit({ env: found.key.env, app: found.key.app, instance: found.instance });
  }

  private emit(e: AgentEvent): void {
    for (const fn of this.subscribers) {
      try {
        fn(e);
      } catch {
        // one bad subscriber must not starve the others
      }
    }
  }
}

function waitingVersion(v: VersionDesired, reason: string): VersionObserved {
  return { version: v.version, releaseId: v.releaseId, desiredReplicas: v.replicas, ready: 0, instances: [], failed: false, failureReason: reason };
}
