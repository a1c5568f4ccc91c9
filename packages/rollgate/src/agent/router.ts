/**
 * The built-in router: the data plane's request path. One node:http listener per
 * environment (apps share it by Host), weighted/header/cookie version choice, a hand-written
 * keep-alive upstream client, retries, outlier ejection, blue-green preview listeners,
 * WebSocket passthrough and per-version metrics. See balancer.ts (choice), router-exchange.ts
 * (one request), router-pool.ts (upstream connections).
 */
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { RollgateError } from '../core/errors.js';
import { STICKY_COOKIE, type FlagMetrics, type LatencyHistogram, type VersionMetrics } from '../core/dataplane.js';
import type { Backend, DataRouter, FaultSource, RouterOptions, ServiceTable } from './router-types.js';
import { CompiledService, type VersionSlot } from './balancer.js';
import { MetricsRegistry, serviceKey } from './metrics.js';
import { OutlierDetector } from './outlier.js';
import { renderPrometheus } from './prometheus.js';
import { BackendState } from './router-backend.js';
import { Exchange, RequestHead, cookieValue, sendJsonError, type ExchangeContext } from './router-exchange.js';
import type { Clock } from './router-pool.js';
import { UpgradeTunnel } from './router-upgrade.js';

/** Knobs beyond the agreed RouterOptions (defaults suit production; tests shorten them). */
export interface RouterTuning {
  /** Longest wait for an upstream's answer, and longest silence within a streamed body. */
  upstreamTimeoutMs?: number;
  /** Extra attempts on another backend after a connection failure (idempotent requests only). */
  maxRetries?: number;
  /** Cap of the doubling ejection time. */
  maxEjectionMs?: number;
  /** How long closing a listener waits for requests in progress before cutting them. */
  closeGraceMs?: number;
}

interface EnvRouting {
  /** The only service of the environment when it answers any host: no Host parsing needed. */
  single: CompiledService | null;
  byHost: Map<string, CompiledService>;
  catchAll: CompiledService | null;
}

const EMPTY_ROUTING: EnvRouting = { single: null, byHost: new Map(), catchAll: null };

interface Listener {
  env: string;
  host: string;
  port: number;
  server: http.Server;
  routing: EnvRouting;
  /** Set on a blue-green preview listener: everything goes to this service's version. */
  preview: { key: string; version: string } | null;
  /** Upgraded (WebSocket) sockets, which the HTTP server no longer tracks. */
  upgrades: Set<Duplex>;
}

export class Router implements DataRouter, ExchangeContext {
  readonly clock: Clock = { now: performance.now() };
  readonly detector: OutlierDetector;
  readonly maxRetries: number;
  private readonly upstreamTimeoutMs: number;
  private readonly closeGraceMs: number;
  private readonly listeners = new Map<string, Listener>();
  private readonly previews = new Map<string, Listener>();
  private readonly services = new Map<string, CompiledService>();
  private readonly backends = new Map<string, BackendState>();
  private readonly metricsReg = new MetricsRegistry();
  private readonly sweepTimer: NodeJS.Timeout;

  private readonly faults: FaultSource | null;

  constructor(opts: RouterOptions & RouterTuning = {}) {
    this.faults = opts.faults ?? null;
    this.detector = new OutlierDetector({
      ejectAfterFailures: opts.ejectAfterFailures ?? 5,
      baseEjectionMs: opts.baseEjectionMs ?? 5000,
      maxEjectionMs: opts.maxEjectionMs ?? 60_000,
      onBackendState: opts.onBackendState,
    });
    this.maxRetries = opts.maxRetries ?? 2;
    this.upstreamTimeoutMs = opts.upstreamTimeoutMs ?? 60_000;
    this.closeGraceMs = opts.closeGraceMs ?? 2000;
    this.sweepTimer = setInterval(() => this.sweep(), Math.min(1000, Math.max(50, this.upstreamTimeoutMs / 4)));
    this.sweepTimer.unref();
  }

  // ---- listeners -------------------------------------------------------------------------

  async ensureListener(env: string, host: string, port: number): Promise<void> {
    const cur = this.listeners.get(env);
    if (cur && cur.host === host && (cur.port === port || port === 0)) return;
    const l = await this.open(env, host, port, null, `choose another listen port for environment "${env}" in rollgate.yaml`);
    l.routing = this.buildRouting(env);
    this.listeners.set(env, l);
    if (cur) await this.shut(cur, this.closeGraceMs);
  }

  async closeListener(env: string): Promise<void> {
    const l = this.listeners.get(env);
    if (!l) return;
    this.listeners.delete(env);
    await this.shut(l, this.closeGraceMs);
  }

  /** The bound address of an environment's listener (its real port when opened on port 0). */
  address(env: string): { host: string; port: number } | null {
    const l = this.listeners.get(env);
    return l ? { host: l.host, port: l.port } : null;
  }

  /** The bound address of a service's blue-green preview listener, if open. */
  previewAddress(env: string, app: string): { host: string; port: number } | null {
    const l = this.previews.get(serviceKey(env, app));
    return l ? { host: l.host, port: l.port } : null;
  }

  private async open(env: string, host: string, port: number, preview: Listener['preview'], what: string): Promise<Listener> {
    const server = http.createServer({ keepAliveTimeout: 65_000, headersTimeout: 30_000, requestTimeout: 0 });
    const l: Listener = { env, host, port, server, routing: EMPTY_ROUTING, preview, upgrades: new Set() };
    await new Promise<void>((resolve, reject) => {
      const onError = (e: NodeJS.ErrnoException): void => {
        if (e.code === 'EADDRINUSE') {
          reject(new RollgateError('port_in_use', `port ${port} on ${host} is already in use by another program; free it or ${what}`));
        } else if (e.code === 'EACCES') {
          reject(new RollgateError('port_in_use', `port ${port} on ${host} cannot be opened without privileges; use a port above 1023 or ${what}`));
        } else if (e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND') {
          reject(new RollgateError('port_in_use', `address ${host} is not an address of this machine; set the listener host of environment "${env}" to one (e.g. 127.0.0.1 or 0.0.0.0)`));
        } else reject(e);
      };
      server.once('error', onError);
      server.listen(port, host, () => {
        server.off('error', onError);
        resolve();
      });
    });
    const addr = server.address();
    if (addr !== null && typeof addr === 'object') l.port = addr.port;
    // Errors after listening (EMFILE and the like) must not crash the agent; the server keeps going.
    server.on('error', () => {});
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => this.onRequest(l, req, res));
    server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(l, req, socket, head));
    return l;
  }

  private async shut(l: Listener, graceMs: number): Promise<void> {
    const { server } = l;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    for (const s of l.upgrades) s.destroy();
    l.upgrades.clear();
    const t = setTimeout(() => server.closeAllConnections(), graceMs);
    if (graceMs === 0) server.closeAllConnections();
    await closed;
    clearTimeout(t);
  }

  // ---- tables ----------------------------------------------------------------------------

  async setService(table: ServiceTable): Promise<void> {
    const key = serviceKey(table.env, table.app);
    const svc = new CompiledService(
      table,
      (b) => this.stateOf(b),
      (v) => this.metricsReg.counters(table.env, table.app, v),
      this.detector,
      this.metricsReg.flags(table.env, table.app),
    );
    this.services.set(key, svc);
    this.refreshRouting(table.env);
    this.prune();
    await this.syncPreview(key, svc);
  }

  async removeService(env: string, app: string): Promise<void> {
    const key = serviceKey(env, app);
    if (!this.services.delete(key)) return;
    this.refreshRouting(env);
    this.metricsReg.remove(env, app);
    this.prune();
    const p = this.previews.get(key);
    if (p) {
      this.previews.delete(key);
      await this.shut(p, this.closeGraceMs);
    }
  }

  private stateOf(b: Backend): BackendState {
    const cur = this.backends.get(b.id);
    if (cur && cur.host === b.host && cur.port === b.port && cur.version === b.version) return cur;
    if (cur) cur.pool.closeIdle();
    const s = new BackendState(b.id, b.version, b.host, b.port, this.clock);
    this.backends.set(b.id, s);
    return s;
  }

  private refreshRouting(env: string): void {
    const r = this.buildRouting(env);
    const l = this.listeners.get(env);
    if (l) l.routing = r;
  }

  private buildRouting(env: string): EnvRouting {
    const list = [...this.services.values()].filter((s) => s.env === env);
    const byHost = new Map<string, CompiledService>();
    let catchAll: CompiledService | null = null;
    for (const s of list) {
      if (s.hosts.length === 0) catchAll ??= s;
      for (const h of s.hosts) if (!byHost.has(h)) byHost.set(h, s);
    }
    const only = list[0];
    const single = list.length === 1 && only !== undefined && only.hosts.length === 0 ? only : null;
    return { single, byHost, catchAll };
  }

  private async syncPreview(key: string, svc: CompiledService): Promise<void> {
    const want = svc.routes?.preview;
    const cur = this.previews.get(key);
    const host = this.listeners.get(svc.env)?.host ?? '127.0.0.1';
    if (cur && want && cur.host === host && (cur.port === want.port || want.port === 0)) {
      cur.preview = { key, version: want.version };
      return;
    }
    if (cur) {
      this.previews.delete(key);
      await this.shut(cur, this.closeGraceMs);
    }
    if (!want) return;
    const l = await this.open(svc.env, host, want.port, { key, version: want.version }, `choose another preview port for app "${svc.app}" in environment "${svc.env}" in rollgate.yaml`);
    this.previews.set(key, l);
  }

  /** Forgets backends no table lists any more once nothing is in flight to them. */
  private prune(): void {
    const used = new Set<BackendState>();
    for (const s of this.services.values()) for (const b of s.backendStates()) used.add(b);
    for (const [id, b] of this.backends) {
      if (used.has(b) || b.inFlight > 0) continue;
      b.pool.closeIdle();
      if (b.pool.size > 0) continue;
      this.detector.forget(b);
      this.backends.delete(id);
    }
  }

  private sweep(): void {
    const now = performance.now();
    this.clock.now = now;
    for (const b of this.backends.values()) b.pool.sweep(now, this.upstreamTimeoutMs);
    this.prune();
  }

  // ---- queries ---------------------------------------------------------------------------

  inFlight(backendId: string): number {
    return this.backends.get(backendId)?.inFlight ?? 0;
  }

  isEjected(backendId: string): boolean {
    return this.backends.get(backendId)?.ejected ?? false;
  }

  releaseBackend(backendId: string): void {
    const b = this.backends.get(backendId);
    if (!b) return;
    b.pool.closeIdle();
    this.prune();
  }

  metrics(env: string, app: string): Record<string, VersionMetrics> {
    return this.metricsReg.snapshot(env, app);
  }

  flagMetrics(env: string, app: string): FlagMetrics | undefined {
    return this.metricsReg.flagSnapshot(env, app);
  }

  /** Each listed backend's own latency histogram (backends the router does not know are left out). */
  instanceLatency(ids: Iterable<string>): Record<string, LatencyHistogram> {
    const out: Record<string, LatencyHistogram> = {};
    for (const id of ids) {
      const b = this.backends.get(id);
      if (b) out[id] = b.latency.snapshot();
    }
    return out;
  }

  renderPrometheus(): string {
    return renderPrometheus(this.metricsReg.entries());
  }

  async close(): Promise<void> {
    clearInterval(this.sweepTimer);
    const all = [...this.listeners.values(), ...this.previews.values()];
    this.listeners.clear();
    this.previews.clear();
    await Promise.all(all.map((l) => this.shut(l, 0)));
    for (const b of this.backends.values()) {
      b.pool.destroyAll();
      this.detector.forget(b);
    }
    this.backends.clear();
  }

  // ---- request path ----------------------------------------------------------------------

  private serviceFor(l: Listener, host: string | null): CompiledService | null {
    if (l.preview !== null) return this.services.get(l.preview.key) ?? null;
    const r = l.routing;
    if (r.single !== null) return r.single;
    if (host !== null && r.byHost.size > 0) {
      const s = r.byHost.get(hostname(host));
      if (s !== undefined) return s;
    }
    return r.catchAll;
  }

  private onRequest(l: Listener, req: http.IncomingMessage, res: http.ServerResponse): void {
    const start = performance.now();
    this.clock.now = start;
    const rh = new RequestHead(req);
    const svc = this.serviceFor(l, rh.host);
    if (svc === null) {
      sendJsonError(res, 404, 'not_found', noServiceMessage(l, rh.host));
      return;
    }
    if (svc.routes === null) {
      sendJsonError(res, 503, 'no_backend', `${svc.app} has no routes in ${svc.env} yet; deploy it first (rollgate deploy ${svc.app} --env ${svc.env})`);
      return;
    }
    const cookie = svc.sticky && rh.cookie !== null ? cookieValue(rh.cookie, STICKY_COOKIE) : null;
    const preview = l.preview;
    const ex = new Exchange(this, svc, req, res, rh, start, cookie, preview !== null);
    const ok = preview !== null ? svc.choosePreview(ex, preview.version) : svc.choose(ex, rh.pin, cookie, req.rawHeaders);
    if (!ok) {
      sendJsonError(res, 503, 'no_backend', noBackendMessage(svc, preview?.version ?? null));
      return;
    }
    const fault = this.faults === null ? null : this.faults.decide(svc.env, svc.app, (ex.slot as VersionSlot).name);
    if (fault === null) ex.send();
    else this.injectFault(ex, fault.failStatus, fault.delayMs);
  }

  /** Chaos: hold the request, then fail it (counted as that version's answer) or forward it. */
  private injectFault(ex: Exchange, failStatus: number | null, delayMs: number): void {
    const act = () => {
      if (ex.finished) return; // the client left while the request was held
      if (failStatus === null) ex.send();
      else ex.failInjected(failStatus);
    };
    if (delayMs > 0) setTimeout(act, delayMs);
    else act();
  }

  private onUpgrade(l: Listener, req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    this.clock.now = performance.now();
    const rh = new RequestHead(req);
    const svc = this.serviceFor(l, rh.host);
    if (svc === null || svc.routes === null) {
      rawError(socket, 404, 'not_found', noServiceMessage(l, rh.host));
      return;
    }
    const cookie = svc.sticky && rh.cookie !== null ? cookieValue(rh.cookie, STICKY_COOKIE) : null;
    const preview = l.preview;
    const t = new UpgradeTunnel(this, svc, req, socket, head, l.upgrades, preview !== null);
    const ok = preview !== null ? svc.choosePreview(t, preview.version) : svc.choose(t, rh.pin, cookie, req.rawHeaders);
    if (!ok) {
      rawError(socket, 503, 'no_backend', noBackendMessage(svc, preview?.version ?? null));
      return;
    }
    t.connect();
  }
}

/** Host header without port, lower-cased (`[::1]:80` keeps its brackets). */
export function hostname(h: string): string {
  if (h.charCodeAt(0) === 91) {
    const e = h.indexOf(']');
    return (e > 0 ? h.slice(0, e + 1) : h).toLowerCase();
  }
  const c = h.indexOf(':');
  return (c < 0 ? h : h.slice(0, c)).toLowerCase();
}

function noServiceMessage(l: Listener, host: string | null): string {
  return `no app on the ${l.env} listener answers to host "${host === null ? '' : hostname(host)}"; add the host to an app's hosts in rollgate.yaml or deploy an app to ${l.env}`;
}

function noBackendMessage(svc: CompiledService, version: string | null): string {
  return version !== null
    ? `version ${version} of ${svc.app} has no ready instance in ${svc.env}; check \`rollgate status ${svc.app} --env ${svc.env}\``
    : `${svc.app} has no ready instance in ${svc.env}; check \`rollgate status ${svc.app} --env ${svc.env}\` and its logs`;
}

function rawError(socket: Duplex, status: number, code: string, message: string): void {
  const body = JSON.stringify({ error: { code, message } });
  const reason = http.STATUS_CODES[status] ?? '';
  socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}
