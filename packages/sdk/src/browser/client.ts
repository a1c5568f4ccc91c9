/**
 * Rollgate's flag client for browsers (and any code holding a client key): a client key only
 * gets flags evaluated on the server for the context it sends, so this client sends its context
 * (OFREP's bulk evaluation), keeps the answers, and fetches again when the context changes
 * (`setContext`) or the server says the flags moved (its OFREP event stream; ETag polling while
 * the stream is down or off). The last values stay in force while the server is away; a
 * refused key (wrong or revoked) serves defaults. Bootstrap values serve before the first
 * answer. Usage (evaluations per flag and variant) is reported in batches.
 *
 * Browser-safe: fetch, streams and timers only. The stream is read from fetch (not
 * EventSource) so that the key travels in a header, never in a URL.
 */
import { Emitter } from '../client/emitter.js';
import { readSse } from '../client/sse.js';
import { Reporting } from '../client/reporting.js';
import { FlagClientError, Readiness, Transport, isRefusal, type TransportOptions } from '../client/transport.js';
import { asBootstrap, asBulk, changedKeys, isOn, usageVariant, type EvaluatedFlag } from './evaluated.js';

/**
 * The context the flags are evaluated for, as OpenFeature has it: `targetingKey` is the user
 * (Unleash's userId), `sessionId`, `remoteAddress` and `currentTime` are Unleash's fields, any
 * other field is a property (strings, numbers, booleans or dates). An Unleash-style
 * `properties` object is spread into fields.
 */
export type BrowserContext = Record<string, unknown>;

export interface RollgateBrowserClientOptions extends TransportOptions {
  /** A client SDK key (`rollgate flags key create --kind client`); a server key works too. */
  key: string;
  context?: BrowserContext;
  /** Values to serve until the server first answers: the `flags` of an OFREP bulk evaluation, e.g. rendered into the page. */
  bootstrap?: EvaluatedFlag[];
  /** How often usage is reported (ms, default 60000; 0: never, and no registration either). */
  metricsIntervalMs?: number;
}

/** Why values changed: the server's flags moved, the context changed, or the key was refused (defaults now). */
export type ChangeCause = 'server' | 'context' | 'refused';

export interface BrowserClientEvents extends Record<string, unknown> {
  ready: { source: 'server' | 'bootstrap' };
  changed: { flags: string[]; cause: ChangeCause; revision: number | null };
  /** Something failed. The last values stay in force, except on a refused key (401/403: defaults). `report`: a usage report or the registration (the values are not affected). */
  error: { message: string; status?: number; report?: boolean };
  /** The server answers again after a failure. */
  recovered: Record<string, never>;
}

const BULK = '/ofrep/v1/evaluate/flags';

export class RollgateBrowserClient extends Emitter<BrowserClientEvents> {
  private flags = new Map<string, EvaluatedFlag>();
  private ctx: BrowserContext;
  private etag: string | undefined;
  private revisionSeen: number | null = null;
  private lastEventId: string | undefined;
  private refused: FlagClientError | undefined;
  private failing = false;
  private seq = 0;
  private latest: Promise<void> = Promise.resolve();
  private readonly t: Transport;
  private readonly reporting: Reporting;
  private readonly readiness = new Readiness<'server' | 'bootstrap'>();
  private running: Promise<void> | undefined;

  constructor(private readonly o: RollgateBrowserClientOptions) {
    super();
    this.t = new Transport(o);
    this.reporting = new Reporting(this.t, { register: '/api/frontend/client/register', metrics: '/api/frontend/client/metrics' }, o.metricsIntervalMs ?? 60_000, (message) => this.emit('error', { message, report: true }));
    this.ctx = { ...(o.context ?? {}) };
    if (o.bootstrap) this.flags = byKey(asBootstrap(o.bootstrap));
  }

  /** Starts fetching and following; evaluations work at once (bootstrap or defaults). */
  start(): this {
    if (this.running) return this;
    if (this.o.bootstrap && this.readiness.mark('bootstrap')) this.emit('ready', { source: 'bootstrap' });
    this.running = this.t.follow({ poll: () => this.load('server'), stream: () => this.stream(), failed: (err) => this.failed(err) });
    this.reporting.start();
    return this;
  }

  /** Resolves once values are in force: the server's, or the bootstrap's. */
  ready(): Promise<void> {
    return this.readiness.wait();
  }

  get isReady(): boolean {
    return this.readiness.source !== undefined;
  }

  get context(): BrowserContext {
    return { ...this.ctx };
  }

  /** The server's revision of the flags the values come from (null before its first answer). */
  get revision(): number | null {
    return this.revisionSeen;
  }

  /** Why the server refused the key (401/403), while it does: then every flag gives its default. */
  get refusal(): FlagClientError | undefined {
    return this.refused;
  }

  /**
   * Evaluates the flags for a new context: resolves when the server answered for it (rejects
   * when it could not; the last values stay in force and the client tries again).
   */
  async setContext(context: BrowserContext): Promise<void> {
    this.ctx = { ...context };
    this.etag = undefined; // the ETag names the context too: a new one cannot match
    if (!this.running) return;
    await this.load('context');
  }

  /** The flag's evaluation, counted as usage (undefined: no such flag, or no answer yet). */
  evaluate(name: string): EvaluatedFlag | undefined {
    const f = this.flags.get(name);
    if (f) this.reporting.usage.count(name, isOn(f), usageVariant(f));
    return f;
  }

  /** The flag's evaluation, not counted. */
  peek(name: string): EvaluatedFlag | undefined {
    return this.flags.get(name);
  }

  isEnabled(name: string, defaultValue = false): boolean {
    const f = this.evaluate(name);
    return f && f.errorCode === undefined ? isOn(f) : defaultValue;
  }

  /** The flag's value when it has one of the default's type, else the default. */
  getValue<T extends string | number | boolean | object>(name: string, defaultValue: T): T {
    const f = this.evaluate(name);
    if (!f || f.errorCode !== undefined || f.value === undefined || f.value === null) return defaultValue;
    const same = typeof f.value === typeof defaultValue && Array.isArray(f.value) === Array.isArray(defaultValue);
    return same ? (f.value as T) : defaultValue;
  }

  /** Every flag's evaluation for the current context (a bootstrap for the next page). */
  all(): EvaluatedFlag[] {
    return [...this.flags.values()];
  }

  /** Stops following and reports what is left of usage. */
  async close(): Promise<void> {
    if (this.t.closed) return;
    this.t.close();
    await this.running?.catch(() => undefined);
    await this.reporting.close();
  }

  /** Reports usage since the last report (to the frontend API); a failed report keeps its counts for the next. */
  flushUsage(): Promise<void> {
    return this.reporting.flush();
  }

  // --- following the server ---------------------------------------------------------------

  /** Fetches the values for the current context; when a newer fetch started meanwhile, its outcome is this one's. */
  private load(cause: ChangeCause): Promise<void> {
    const seq = ++this.seq;
    const p = this.fetchOnce(seq, cause).catch((e: unknown) => {
      if (seq !== this.seq) return this.latest;
      throw e;
    });
    this.latest = p;
    return p;
  }

  private async fetchOnce(seq: number, cause: ChangeCause): Promise<void> {
    const context = wireContext(this.ctx);
    const res = await this.t.request('POST', BULK, { body: { context }, headers: this.etag ? { 'if-none-match': this.etag } : {} });
    const body: unknown = res.status === 304 ? undefined : await res.json().catch(() => undefined);
    if (res.status === 304) await res.body?.cancel();
    // Answers for an older context (or an older fetch) are not the ones that count.
    if (seq !== this.seq) return this.latest;
    if (res.status === 304) return this.answered();
    const bulk = asBulk(body);
    this.etag = res.headers.get('etag') ?? undefined;
    this.revisionSeen = bulk.revision ?? this.revisionSeen;
    this.apply(byKey(bulk.flags), cause);
    this.answered();
  }

  /** The server answered: a refusal is over, a failure recovered, the client ready. */
  private answered(): void {
    this.refused = undefined;
    if (this.failing) {
      this.failing = false;
      this.emit('recovered', {});
    }
    if (this.readiness.source !== 'server' && this.readiness.mark('server')) this.emit('ready', { source: 'server' });
  }

  private apply(next: Map<string, EvaluatedFlag>, cause: ChangeCause): void {
    const flags = changedKeys(this.flags, next);
    this.flags = next;
    if (flags.length > 0) this.emit('changed', { flags, cause, revision: this.revisionSeen });
  }

  private failed(err: FlagClientError): void {
    this.failing = true;
    if (isRefusal(err.status)) {
      // A wrong or revoked key must not keep serving what it was once given.
      this.refused = err;
      this.etag = undefined;
      this.apply(new Map(), 'refused');
    }
    this.emit('error', err.status === undefined ? { message: err.message } : { message: err.message, status: err.status });
  }

  /** Follows the OFREP event stream: each notice that the flags moved fetches the values again. */
  private async stream(): Promise<void> {
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (this.lastEventId) headers['last-event-id'] = this.lastEventId;
    // `since`: a change between the last fetch and this connect is announced at once.
    const since = this.revisionSeen === null ? '' : `?since=${this.revisionSeen}`;
    const res = await this.t.request('GET', `/ofrep/v1/events${since}`, { headers });
    if (!res.body) throw new FlagClientError('the event stream has no body');
    try {
      for await (const ev of readSse(res.body)) {
        if (ev.id !== undefined) this.lastEventId = ev.id;
        if (ev.event !== 'message' || !isRefetch(ev.data)) continue;
        await this.load('server');
      }
    } finally {
      // A stream left after an error here must not hold its connection open.
      await res.body.cancel().catch(() => undefined);
    }
  }
}

function isRefetch(data: string): boolean {
  try {
    return (JSON.parse(data) as { type?: unknown } | null)?.type === 'refetchEvaluation';
  } catch {
    return false;
  }
}

const byKey = (flags: EvaluatedFlag[]) => new Map(flags.map((f) => [f.key, f]));

/** The context as OFREP takes it: dates as ISO text, an Unleash-style `properties` object spread into fields. */
function wireContext(ctx: BrowserContext): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(ctx)) {
    if (k === 'properties' && v !== null && typeof v === 'object' && !Array.isArray(v)) Object.assign(out, v);
    else out[k] = v instanceof Date ? v.toISOString() : v;
  }
  return out;
}
