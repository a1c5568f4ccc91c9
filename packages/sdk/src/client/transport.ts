/**
 * What both flag clients share of talking to the server (RollgateClient with a server key,
 * RollgateBrowserClient with a client key): the key and SDK headers on every request, errors as
 * FlagClientError with the server's message, the follow loop (a catch-up poll, then the stream
 * or a poll timer, backing off on failures) and the usage reports. Browser-safe: fetch,
 * AbortController and timers only.
 */
import type { Usage } from './usage.js';

export const SDK_NAME = 'rollgate-sdk:0.1.0';

/** A failure the client reports; 401/403 mean the key is wrong or revoked. */
export class FlagClientError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface TransportOptions {
  /** The Rollgate server, e.g. http://127.0.0.1:7070. */
  url: string;
  /** An SDK key (`rollgate flags key create --kind server|client`). */
  key: string;
  appName?: string;
  instanceId?: string;
  /** Follow the event stream (default); false polls only. */
  streaming?: boolean;
  /** How often to poll while the stream is down or off (ms, default 15000). */
  refreshIntervalMs?: number;
  fetch?: typeof fetch;
}

export interface RequestOptions {
  body?: unknown;
  headers?: Record<string, string>;
  /** Not cancelled by close() (the last usage report is sent after it), and in a browser not by the page going away (fetch keepalive). */
  outlivesClose?: boolean;
}

/** What the follow loop does; `stream` resolves when the server ends the stream, throws when it fails. */
export interface FollowSteps {
  poll(): Promise<void>;
  stream(): Promise<void>;
  failed(err: FlagClientError): void;
}

const MAX_BACKOFF_MS = 30_000;

export const isRefusal = (status: number | undefined): boolean => status === 401 || status === 403;

export class Transport {
  private readonly abort = new AbortController();
  private readonly fetchFn: typeof fetch;
  private readonly base: string;
  private wake: (() => void) | undefined;
  private stopped = false;

  constructor(readonly o: TransportOptions) {
    this.fetchFn = o.fetch ?? globalThis.fetch.bind(globalThis);
    this.base = o.url.replace(/\/+$/, '');
  }

  get closed(): boolean {
    return this.stopped;
  }

  get appName(): string {
    return this.o.appName ?? 'rollgate-sdk';
  }

  get instanceId(): string {
    return this.o.instanceId ?? 'rollgate-sdk';
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  async request(method: string, path: string, r: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = {
      authorization: this.o.key,
      'unleash-appname': this.appName,
      'unleash-sdk': SDK_NAME,
      ...(this.o.instanceId ? { 'unleash-instanceid': this.o.instanceId } : {}),
      ...r.headers,
    };
    if (r.body !== undefined) headers['content-type'] = 'application/json';
    const init: RequestInit = { method, headers, ...(r.outlivesClose ? { keepalive: true } : { signal: this.abort.signal }), ...(r.body === undefined ? {} : { body: JSON.stringify(r.body) }) };
    const res = await this.fetchFn(`${this.base}${path}`, init);
    if (res.status >= 400) {
      const text = await res.text().catch(() => '');
      let message = text.slice(0, 500);
      try {
        const j = JSON.parse(text) as { error?: { message?: string }; message?: string; errorDetails?: string };
        message = j.error?.message ?? j.errorDetails ?? j.message ?? message;
      } catch {
        // not JSON: the text as it is
      }
      throw new FlagClientError(`${method} ${path}: ${res.status} ${message}`.trim(), res.status);
    }
    return res;
  }

  /** Polls, then follows the stream (or polls on a timer), until closed; backs off on failures. */
  async follow(steps: FollowSteps): Promise<void> {
    const every = this.o.refreshIntervalMs ?? 15_000;
    let failures = 0;
    while (!this.stopped) {
      try {
        await steps.poll();
        if (this.o.streaming === false) {
          failures = 0;
          await this.sleep(every);
          continue;
        }
        await steps.stream();
        failures = 0; // the server ended the stream cleanly: reconnect at once, after a catch-up poll
      } catch (e) {
        if (this.stopped) return;
        failures++;
        const err = e instanceof FlagClientError ? e : new FlagClientError(e instanceof Error ? e.message : String(e));
        steps.failed(err);
        // A refused key will not start working by itself soon: wait long; a network blip: back off.
        const wait = isRefusal(err.status) ? MAX_BACKOFF_MS : Math.min(MAX_BACKOFF_MS, 250 * 2 ** Math.min(failures, 7));
        await this.sleep(this.o.streaming === false ? every : wait * (0.75 + Math.random() * 0.5));
      }
    }
  }

  /** Ends the follow loop's current wait early. */
  nudge(): void {
    this.wake?.();
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

  /** Stops every request in flight and the loop. */
  close(): void {
    this.stopped = true;
    this.abort.abort();
    this.wake?.();
  }

  /** Runs `fn` every `ms` (not keeping a Node process alive); returns the stop. */
  every(ms: number, fn: () => void): () => void {
    const t = setInterval(fn, ms);
    (t as { unref?: () => void }).unref?.();
    return () => clearInterval(t);
  }

  /** Says this SDK instance runs (Unleash's registration). */
  async register(path: string, intervalMs: number, strategies: string[] = []): Promise<void> {
    const res = await this.request('POST', path, { body: { appName: this.appName, instanceId: this.instanceId, sdkVersion: SDK_NAME, strategies, started: new Date().toISOString(), interval: intervalMs } });
    await res.body?.cancel();
  }

  /** Reports usage since the last report; a failed report keeps its counts for the next (and throws). */
  async reportUsage(path: string, usage: Usage): Promise<void> {
    const bucket = usage.take();
    if (!bucket) return;
    try {
      const res = await this.request('POST', path, { body: { appName: this.appName, instanceId: this.instanceId, bucket }, outlivesClose: true });
      await res.body?.cancel();
    } catch (e) {
      usage.restore(bucket);
      throw e;
    }
  }
}

/** Resolves `ready()` once, when something is in force (the server's answer or a bootstrap). */
export class Readiness<Source extends string> {
  private state: Source | undefined;
  private waiters: (() => void)[] = [];

  get source(): Source | undefined {
    return this.state;
  }

  /** True the first time only (then the caller says it is ready). */
  mark(source: Source): boolean {
    const first = this.state === undefined;
    this.state = source;
    if (first) for (const w of this.waiters.splice(0)) w();
    return first;
  }

  wait(): Promise<void> {
    if (this.state !== undefined) return Promise.resolve();
    return new Promise((r) => this.waiters.push(r));
  }
}
