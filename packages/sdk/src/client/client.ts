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
import { Outcomes } from './outcomes.js';
import { Reporting } from './reporting.js';
import { FlagClientError, Readiness, Transport, type TransportOptions } from './transport.js';

export { FlagClientError, SDK_NAME } from './transport.js';

export interface RollgateClientOptions extends TransportOptions {
  /** A server SDK key (`rollgate flags key create --kind server`). */
  key: string;
  /** Rules to serve until the server first answers (and whenever it never has). */
  bootstrap?: ClientFeatures;
  /** How often usage is reported (ms, default 60000; 0: never, and no registration either). */
  metricsIntervalMs?: number;
  /** How often request outcomes recorded by the Node middleware are reported (ms, default 1000), for guarded rollouts. */
  outcomesIntervalMs?: number;
  /** For applicationHostname strategies. */
  hostname?: string;
  /** Called on every evaluation (the Node middleware tags responses with them). */
  onEvaluation?: (flag: string, variant: string) => void;
}

export interface ClientEvents extends Record<string, unknown> {
  /** First rules in force (from the server, or the bootstrap when it has not answered). */
  ready: { source: 'server' | 'bootstrap' };
  /** New rules in force; `revision` is the server's, when it said. */
  changed: { revision: number | null };
  /** Something failed; the last rules stay in force. `status` is the HTTP status when there was one; `report`: a usage report or the registration (the rules are not affected). */
  error: { message: string; status?: number; report?: boolean };
}

const EMPTY: ClientFeatures = { version: 2, features: [] };
const STRATEGIES = ['default', 'userWithId', 'gradualRolloutUserId', 'gradualRolloutSessionId', 'gradualRolloutRandom', 'remoteAddress', 'flexibleRollout', 'applicationHostname'];

export class RollgateClient extends Emitter<ClientEvents> {
  private evaluator: Evaluator;
  private state: ClientFeatures | undefined;
  /** The rules in force by name, made when first asked for after a change (most changes are never asked about). */
  private features: Map<string, Feature> | undefined;
  private etag: string | undefined;
  private lastEventId: string | undefined;
  private revisionSeen: number | null = null;
  private readonly t: Transport;
  private readonly reporting: Reporting;
  private readonly readiness = new Readiness<'server' | 'bootstrap'>();
  private running: Promise<void> | undefined;
  private readonly outcomes = new Outcomes();
  private stopOutcomes: (() => void) | undefined;
  /** The server has no outcomes endpoint (older than guarded rollouts): stop recording and reporting. */
  private outcomesRefused = false;

  constructor(private readonly o: RollgateClientOptions) {
    super();
    this.t = new Transport(o);
    this.reporting = new Reporting(this.t, { register: '/api/client/register', metrics: '/api/client/metrics', strategies: STRATEGIES }, o.metricsIntervalMs ?? 60_000, (message) => this.emit('error', { message, report: true }));
    this.state = o.bootstrap;
    this.evaluator = compile(o.bootstrap ?? EMPTY, o.hostname ? { hostname: o.hostname } : {});
  }

  /** Starts fetching and following; evaluations work at once (bootstrap or defaults). */
  start(): this {
    if (this.running) return this;
    if (this.o.bootstrap) this.markReady('bootstrap');
    this.running = this.t.follow({ poll: () => this.poll(), stream: () => this.stream(), failed: (err) => this.emit('error', err.status === undefined ? { message: err.message } : { message: err.message, status: err.status }) });
    this.reporting.start();
    this.stopOutcomes = this.t.every(this.o.outcomesIntervalMs ?? 1000, () => void this.flushOutcomes());
    return this;
  }

  /** Resolves once rules are in force: the server's, or the bootstrap's. */
  ready(): Promise<void> {
    return this.readiness.wait();
  }

  /** The server's revision of the rules in force (null before its first answer). */
  get revision(): number | null {
    return this.revisionSeen;
  }

  isEnabled(name: string, context: Context = {}, defaultValue = false): boolean {
    if (!this.evaluator.has(name)) return defaultValue;
    const on = this.evaluator.isEnabled(name, context);
    this.reporting.usage.count(name, on);
    this.o.onEvaluation?.(name, on ? 'on' : 'off');
    return on;
  }

  getVariant(name: string, context: Context = {}): VariantResult {
    const v = this.evaluator.getVariant(name, context);
    if (this.evaluator.has(name)) {
      this.reporting.usage.count(name, v.feature_enabled ?? v.enabled, v.name);
      this.o.onEvaluation?.(name, v.name);
    }
    return v;
  }

  /** The flag's value, variant and reason (undefined for an unknown flag). */
  evaluate(name: string, context: Context = {}): FlagEvaluation | undefined {
    const e = this.evaluator.evaluate(name, context);
    if (e) {
      this.reporting.usage.count(name, e.value, e.variant.name);
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
    if (this.t.closed) return;
    this.t.close();
    this.stopOutcomes?.();
    await this.running?.catch(() => undefined);
    await this.reporting.close();
    await this.flushOutcomes();
  }

  // --- following the server ---------------------------------------------------------------

  /** One conditional fetch of the whole state; a 304 changes nothing. */
  private async poll(): Promise<void> {
    const res = await this.t.request('GET', '/api/client/features', { headers: this.etag ? { 'if-none-match': this.etag } : {} });
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
    const res = await this.t.request('GET', '/api/client/streaming', { headers });
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
    if (this.readiness.source === 'server' || this.readiness.source === source) return;
    if (this.readiness.mark(source)) this.emit('ready', { source });
  }

  /** Reports usage since the last report; a failed report keeps its counts for the next. */
  flushUsage(): Promise<void> {
    return this.reporting.flush();
  }

  /**
   * A finished response's outcome by the variants that served it (the Node middleware calls this
   * when given the client as `outcomes`): reported for guarded rollouts of apps not behind the
   * Rollgate router.
   */
  recordOutcome(variants: Iterable<readonly [string, string]>, status: number, latencyMs: number, cutShort: boolean): void {
    if (!this.t.closed && !this.outcomesRefused) this.outcomes.recordOutcome(variants, status, latencyMs, cutShort);
  }

  /** Reports outcomes since the last report; a failed report keeps them for the next. */
  async flushOutcomes(): Promise<void> {
    const batch = this.outcomes.take();
    if (!batch) return;
    try {
      const res = await this.t.request('POST', '/api/client/outcomes', { body: { appName: this.t.appName, instanceId: this.t.instanceId, ...batch }, outlivesClose: true });
      await res.body?.cancel();
    } catch (e) {
      if (e instanceof FlagClientError && e.status === 404) {
        this.outcomesRefused = true;
        this.emit('error', { message: 'the server takes no request outcomes (it is older than guarded rollouts); they are no longer recorded', status: 404, report: true });
        return;
      }
      this.outcomes.restore(batch);
      if (!this.t.closed) this.emit('error', { message: e instanceof Error ? e.message : String(e), report: true });
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
