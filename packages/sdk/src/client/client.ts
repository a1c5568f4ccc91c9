/**
 * Rollgate's flag client for Node and browsers: fetches the rules of its key's environment once,
 * keeps them current over the server's event stream (Unleash's streaming protocol: a hydration
 * on connect, then deltas), falls back to ETag polling while the stream is down, and evaluates
 * in process with no network per call. When the server is away the last rules stay in force;
 * a bootstrap state serves before the first answer. Usage (evaluations per flag and variant) is
 * reported in batches.
 */
import { recompile } from '../engine/evaluator.js';
import { applyDelta, compile, type ClientFeatures, type ClientFeaturesDelta, type Context, type Evaluator, type Feature, type FlagEvaluation, type VariantResult } from '../engine/index.js';
import { Emitter } from './emitter.js';
import { readSse, type SseFields } from './sse.js';
import { Usage } from './usage.js';

export const SDK_NAME = 'rollgate-sdk:0.1.0';

export interface RollgateClientOptions {
  /** The Rollgate server, e.g. http://127.0.0.1:7070. */
  url: string;
  /** A server SDK key (`rollgate flags key create --kind server`). */
  key: string;
  appName?: string;
  instanceId?: string;
  /** Rules to serve until the server first answers (and whenever it never has). */
  bootstrap?: ClientFeatures;
  /** Follow the event stream (default); false polls only. */
  streaming?: boolean;
  /** How often to poll while the stream is down or off (ms, default 15000). */
  refreshIntervalMs?: number;
  /** How often usage is reported (ms, default 60000; 0: never). */
  metricsIntervalMs?: number;
  /** For applicationHostname strategies. */
  hostname?: string;
  /** Called on every evaluation (the Node middleware tags responses with them). */
  onEvaluation?: (flag: string, variant: string) => void;
  fetch?: typeof fetch;
}

export interface ClientEvents extends Record<string, unknown> {
  /** First rules in force (from the server, or the bootstrap when it has not answered). */
  ready: { source: 'server' | 'bootstrap' };
  /** New rules in force; `revision` is the server's, when it said. */
  changed: { revision: number | null };
  /** Something failed; the last rules stay in force. `status` is the HTTP status when there was one. */
  error: { message: string; status?: number };
}

/** A failure the client reports; 401/403 mean the key is wrong or revoked. */
export class FlagClientError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

const EMPTY: ClientFeatures = { version: 2, features: [] };
const MAX_BACKOFF_MS = 30_000;

export class RollgateClient extends Emitter<ClientEvents> {
  private evaluator: Evaluator;
  private state: ClientFeatures | undefined;
  /** The rules in force by name, made when first asked for after a change (most changes are never asked about). */
  private features: Map<string, Feature> | undefined;
  private etag: string | undefined;
  private lastEventId: string | undefined;
  private revisionSeen: number | null = null;
  private readonly usage = new Usage();
  private readonly abort = new AbortController();
  private readonly fetchFn: typeof fetch;
  private readonly base: string;
  private readyState: 'no' | 'bootstrap' | 'server' = 'no';
  private readyWaiters: (() => void)[] = [];
  private metricsTimer: ReturnType<typeof setInterval> | undefined;
  private running: Promise<void> | undefined;
  private closed = false;
  private wake: (() => void) | undefined;

  constructor(private readonly o: RollgateClientOptions) {
    super();
    this.fetchFn = o.fetch ?? globalThis.fetch.bind(globalThis);
    this.base = o.url.replace(/\/+$/, '');
    this.state = o.bootstrap;
    this.evaluator = compile(o.bootstrap ?? EMPTY, o.hostname ? { hostname: o.hostname } : {});
  }

  /** Starts fetching and following; evaluations work at once (bootstrap or defaults). */
  start(): this {
    if (this.running) return this;
    if (this.o.bootstrap) this.markReady('bootstrap');
    this.running = this.run();
    const every = this.o.metricsIntervalMs ?? 60_000;
    if (every > 0) this.metricsTimer = setInterval(() => void this.flushUsage(), every);
    (this.metricsTimer as { unref?: () => void } | undefined)?.unref?.();
    void this.register();
    return this;
  }

  /** Resolves once rules are in force: the server's, or the bootstrap's. */
  ready(): Promise<void> {
    if (this.readyState !== 'no') return Promise.resolve();
    return new Promise((r) => this.readyWaiters.push(r));
  }

  /** The server's revision of the rules in force (null before its first answer). */
  get revision(): number | null {
    return this.revisionSeen;
  }

  isEnabled(name: string, context: Context = {}, defaultValue = false): boolean {
    if (!this.evaluator.has(name)) return defaultValue;
    const on = this.evaluator.isEnabled(name, context);
    this.usage.count(name, on);
    this.o.onEvaluation?.(name, on ? 'on' : 'off');
    return on;
  }

  getVariant(name: string, context: Context = {}): VariantResult {
    const v = this.evaluator.getVariant(name, context);
    if (this.evaluator.has(name)) {
      this.usage.count(name, v.feature_enabled ?? v.enabled, v.name);
      this.o.onEvaluation?.(name, v.name);
    }
    return v;
  }

  /** The flag's value, variant and reason (undefined for an unknown flag). */
  evaluate(name: string, context: Context = {}): FlagEvaluation | undefined {
    const e = this.evaluator.evaluate(name, context);
    if (e) {
      this.usage.count(name, e.value, e.variant.name);
      this.o.onEvaluation?.(name, e.variant.name);
    }
    return e;
  }

  /** Every flag's evaluation for one context (not counted as usage). */
  evaluateAll(context: Context = {}): FlagEvaluation[] {
    return this.evaluator.evaluateAll(context);
  }

  /** A flag's rules as in force (undefined when there is no such flag). */
  feature(name: string): Feature | undefined {
    return (this.features ??= byName(this.state ?? EMPTY)).get(name);
  }

  /** The rules in force (for a bootstrap file). */
  snapshot(): ClientFeatures {
    return this.state ?? EMPTY;
  }

  /** Stops following and reports what is left of usage. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort();
    this.wake?.();
    if (this.metricsTimer) clearInterval(this.metricsTimer);
    await this.running?.catch(() => undefined);
    if ((this.o.metricsIntervalMs ?? 60_000) > 0) await this.flushUsage();
  }

  // --- following the server ---------------------------------------------------------------

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.closed) {
      try {
        await this.poll();
        if (this.o.streaming === false) {
          failures = 0;
          await this.sleep(this.o.refreshIntervalMs ?? 15_000);
          continue;
        }
        await this.stream();
        failures = 0; // the server ended the stream cleanly: reconnect at once, after a catch-up poll
      } catch (e) {
        if (this.closed) return;
        failures++;
        const err = e instanceof FlagClientError ? e : new FlagClientError(e instanceof Error ? e.message : String(e));
        this.emit('error', err.status === undefined ? { message: err.message } : { message: err.message, status: err.status });
        // A refused key will not start working by itself soon: wait long; a network blip: back off.
        const wait = err.status === 401 || err.status === 403 ? MAX_BACKOFF_MS : Math.min(MAX_BACKOFF_MS, 250 * 2 ** Math.min(failures, 7));
        await this.sleep(this.o.streaming === false ? (this.o.refreshIntervalMs ?? 15_000) : wait * (0.75 + Math.random() * 0.5));
      }
    }
  }

  /** One conditional fetch of the whole state; a 304 changes nothing. */
  private async poll(): Promise<void> {
    const res = await this.request('GET', '/api/client/features', undefined, this.etag ? { 'if-none-match': this.etag } : {});
    if (res.status === 304) {
      this.markReady('server');
      return;
    }
    const body = asState(await res.json().catch(() => undefined));
    this.etag = res.headers.get('etag') ?? undefined;
    this.apply(body, revisionOf(this.etag));
  }

  /** Follows the stream until it ends (resolves) or fails (throws). */
  private async stream(): Promise<void> {
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (this.lastEventId) headers['last-event-id'] = this.lastEventId;
    const res = await this.request('GET', '/api/client/streaming', undefined, headers);
    if (!res.body) throw new FlagClientError('the event stream has no body');
    const fields: SseFields = {};
    try {
      await this.follow(res.body, fields);
    } finally {
      // A stream left after a bad event (or an error here) must not hold its connection open.
      await res.body.cancel().catch(() => undefined);
    }
  }

  private async follow(body: ReadableStream<Uint8Array>, fields: SseFields): Promise<void> {
    for await (const ev of readSse(body, fields)) {
      if (ev.event !== 'unleash-connected' && ev.event !== 'unleash-updated') continue;
      const delta = asDelta(ev.data);
      const next = applyDelta(ev.event === 'unleash-connected' ? undefined : this.state, delta.events);
      const last = delta.events.at(-1)?.eventId;
      if (ev.id !== undefined) this.lastEventId = ev.id;
      else if (last !== undefined) this.lastEventId = String(last);
      // The stream's event ids are the environment's revisions: a later poll may use them.
      if (last !== undefined) this.etag = `"${last}"`;
      this.apply(next, last ?? null);
    }
  }

  private apply(state: ClientFeatures, revision: number | null): void {
    this.state = state;
    // Only the flags the change replaced are compiled (same options: the hostname).
    this.evaluator = recompile(this.evaluator, state);
    this.features = undefined;
    this.revisionSeen = revision ?? this.revisionSeen;
    this.markReady('server');
    this.emit('changed', { revision: this.revisionSeen });
  }

  private markReady(source: 'server' | 'bootstrap'): void {
    if (this.readyState === 'server' || this.readyState === source) return;
    const first = this.readyState === 'no';
    this.readyState = source;
    if (first) {
      for (const w of this.readyWaiters.splice(0)) w();
      this.emit('ready', { source });
    }
  }

  private async request(method: string, path: string, body?: unknown, extra: Record<string, string> = {}): Promise<Response> {
    const headers: Record<string, string> = {
      authorization: this.o.key,
      'unleash-appname': this.o.appName ?? 'rollgate-sdk',
      'unleash-sdk': SDK_NAME,
      ...(this.o.instanceId ? { 'unleash-instanceid': this.o.instanceId } : {}),
      ...extra,
    };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await this.fetchFn(`${this.base}${path}`, { method, headers, signal: this.abort.signal, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    if (res.status >= 400) {
      const text = await res.text().catch(() => '');
      let message = text.slice(0, 500);
      try {
        const j = JSON.parse(text) as { error?: { message?: string }; message?: string };
        message = j.error?.message ?? j.message ?? message;
      } catch {
        // not JSON: the text as it is
      }
      throw new FlagClientError(`${method} ${path}: ${res.status} ${message}`.trim(), res.status);
    }
    return res;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    });
  }

  private async register(): Promise<void> {
    try {
      await this.request('POST', '/api/client/register', {
        appName: this.o.appName ?? 'rollgate-sdk',
        instanceId: this.o.instanceId ?? 'rollgate-sdk',
        sdkVersion: SDK_NAME,
        strategies: ['default', 'userWithId', 'gradualRolloutUserId', 'gradualRolloutSessionId', 'gradualRolloutRandom', 'remoteAddress', 'flexibleRollout', 'applicationHostname'],
        started: new Date().toISOString(),
        interval: this.o.metricsIntervalMs ?? 60_000,
      }).then((r) => r.body?.cancel());
    } catch (e) {
      if (!this.closed) this.emit('error', { message: `registration failed: ${e instanceof Error ? e.message : String(e)}` });
    }
  }

  /** Reports usage since the last report; a failed report keeps its counts for the next. */
  async flushUsage(): Promise<void> {
    const bucket = this.usage.take();
    if (!bucket) return;
    try {
      const res = await this.fetchFn(`${this.base}/api/client/metrics`, {
        method: 'POST',
        headers: { authorization: this.o.key, 'content-type': 'application/json', 'unleash-appname': this.o.appName ?? 'rollgate-sdk', 'unleash-sdk': SDK_NAME },
        body: JSON.stringify({ appName: this.o.appName ?? 'rollgate-sdk', instanceId: this.o.instanceId ?? 'rollgate-sdk', bucket }),
      });
      await res.body?.cancel();
      if (res.status >= 400) throw new FlagClientError(`usage report refused: ${res.status}`, res.status);
    } catch (e) {
      this.usage.restore(bucket);
      if (!this.closed) this.emit('error', { message: e instanceof Error ? e.message : String(e) });
    }
  }
}

/**
 * What the server sent, checked for the shape the engine needs before it replaces the rules in
 * force: a broken or hostile answer is an error, and the last good rules keep serving.
 */
function asState(v: unknown): ClientFeatures {
  const o = v as { features?: unknown; segments?: unknown } | null;
  if (!o || typeof o !== 'object' || !isFeatureList(o.features) || (o.segments !== undefined && !Array.isArray(o.segments))) {
    throw new FlagClientError('the server answered rules that are not rules (expected {version, features: [...], segments?: [...]}); the last rules stay in force');
  }
  return o as ClientFeatures;
}

function asDelta(text: string): ClientFeaturesDelta {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new FlagClientError('the event stream sent an event that is not JSON; the last rules stay in force');
  }
  const events = (v as { events?: unknown } | null)?.events;
  const ok = Array.isArray(events) && events.every((e) => e !== null && typeof e === 'object' && typeof (e as { type?: unknown }).type === 'string' && ((e as { type: string }).type !== 'hydration' || isFeatureList((e as { features?: unknown }).features)) && ((e as { type: string }).type !== 'feature-updated' || isFeature((e as { feature?: unknown }).feature)));
  if (!ok) throw new FlagClientError('the event stream sent changes that are not changes (expected {events: [...]}); the last rules stay in force');
  return v as ClientFeaturesDelta;
}

const isFeature = (f: unknown) => f !== null && typeof f === 'object' && typeof (f as { name?: unknown }).name === 'string' && typeof (f as { enabled?: unknown }).enabled === 'boolean';
const isFeatureList = (v: unknown) => Array.isArray(v) && v.every(isFeature);

const byName = (s: ClientFeatures) => new Map(s.features.map((f) => [f.name, f]));

/** A revision from an ETag such as `"42"` or `W/"42"`; null when it is not one. */
function revisionOf(etag: string | undefined): number | null {
  const m = etag ? /"(\d+)"/.exec(etag) : null;
  return m ? Number(m[1]) : null;
}
