/**
 * For the delivery tests: SDK keys made through the API, the real unleash-client connected to
 * the real server, and Unleash's client specification (shared/conformance) with each file's
 * state (the delta files' events applied, as their final state).
 */
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import type { ClientFeatures } from '@rollgate/sdk/engine';
import { InMemStorageProvider, Unleash, type UnleashConfig } from 'unleash-client';
import type { ApiClient } from '../cli/client.js';
import { ApiError } from '../cli/exit.js';

// The Unleash client specification, read as the SDK's own tests read it.
export { SPEC_DIR, loadSpec as specFiles, plainVariant, type SpecCase, type SpecFile } from '@rollgate/sdk/conformance';

export async function sdkKey(admin: ApiClient, app: string, env: string, kind: 'server' | 'client'): Promise<{ id: string; key: string }> {
  return admin.request<{ id: string; key: string }>('POST', `/v1/apps/${app}/envs/${env}/flag-keys`, { body: { kind, name: `${kind} test key` } });
}

/** A flag of shop/staging (on, no strategies) whose every change sends it whole: `variants` payloads of 55 KB. */
export async function bigFlag(admin: ApiClient, name: string, variants: number): Promise<void> {
  await admin.request('POST', '/v1/apps/shop/flags', { body: { name, kind: 'release' } });
  const list = Array.from({ length: variants }, (_v, i) => ({ name: `v${i}`, weight: Math.floor(1000 / variants), weightType: 'variable', stickiness: 'default', payload: { type: 'string', value: String(i).repeat(55_000) } }));
  await admin.request('PUT', `/v1/apps/shop/envs/staging/flags/${name}`, { body: { enabled: true, strategies: [], variants: list } });
}

/** A raw connection that asks for the Unleash stream with `key`, then never reads a byte of it (paused: the kernel's buffers fill, then the server's). */
export async function stalledStream(url: string, key: string): Promise<Socket> {
  const s = connect({ host: '127.0.0.1', port: Number(new URL(url).port) });
  await once(s, 'connect');
  s.on('error', () => undefined); // the server's drop may reach it as a reset
  s.write(`GET /api/client/streaming HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: ${key}\r\n\r\n`);
  s.pause();
  return s;
}

/** unleash-client against `url` with `key`, once it has the server's state (or its first error). */
export async function connectUnleash(url: string, key: string, opts: Partial<UnleashConfig> = {}): Promise<Unleash> {
  const client = new Unleash({
    url: `${url}/api/`,
    appName: 'delivery-test',
    customHeaders: { Authorization: key },
    disableMetrics: true,
    refreshInterval: 200,
    storageProvider: new InMemStorageProvider(),
    ...opts,
  });
  client.on('error', () => undefined);
  client.on('warn', () => undefined);
  try {
    await Promise.race([once(client, 'synchronized'), once(client, 'error').then(([e]) => Promise.reject(e instanceof Error ? e : new Error(String(e))))]);
  } catch (e) {
    client.destroy();
    throw e;
  }
  return client;
}

export interface SseEvent {
  id?: string;
  event: string;
  data: string;
}

/** A raw Server-Sent Events connection: the response status, then its events (and comments) as they come. */
export class SseConnection {
  private buf = '';
  private readonly waiting: Array<() => void> = [];
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  ended = false;

  private constructor(
    readonly res: Response,
    private readonly ac: AbortController,
  ) {}

  static async open(url: string, headers: Record<string, string>): Promise<SseConnection> {
    const ac = new AbortController();
    const res = await fetch(url, { headers, signal: ac.signal });
    const c = new SseConnection(res, ac);
    if (res.ok && res.body) void c.pump(res.body);
    else c.ended = true;
    return c;
  }

  /** Waits for the first event (from the start) that `pred` accepts, or the end. */
  async next(pred: (e: SseEvent) => boolean, what: string, timeoutMs = 20_000): Promise<SseEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const e = this.events.find(pred);
      if (e) return e;
      if (this.ended) throw new Error(`stream ended before ${what}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((r) => {
        this.waiting.push(r);
        setTimeout(r, 200);
      });
    }
  }

  /** Resolves when the server ends or cuts the stream. */
  async whenEnded(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended) {
      if (Date.now() > deadline) throw new Error('timed out waiting for the stream to end');
      await new Promise<void>((r) => {
        this.waiting.push(r);
        setTimeout(r, 200);
      });
    }
  }

  close(): void {
    this.ac.abort();
  }

  private async pump(body: ReadableStream<Uint8Array>): Promise<void> {
    const dec = new TextDecoder();
    try {
      for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
        this.buf += dec.decode(chunk, { stream: true });
        let at: number;
        while ((at = this.buf.indexOf('\n\n')) >= 0) {
          const block = this.buf.slice(0, at);
          this.buf = this.buf.slice(at + 2);
          const e: SseEvent = { event: 'message', data: '' };
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) this.comments.push(line.slice(1).trim());
            else if (line.startsWith('id: ')) e.id = line.slice(4);
            else if (line.startsWith('event: ')) e.event = line.slice(7);
            else if (line.startsWith('data: ')) data.push(line.slice(6));
          }
          if (data.length) this.events.push({ ...e, data: data.join('\n') });
          this.wake();
        }
      }
    } catch {
      // aborted or cut off: either way the stream is over
    }
    this.ended = true;
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiting.splice(0)) w();
  }
}

/**
 * Imports a state through the flags API. The API refuses rules Unleash would take and
 * silently never match (e.g. "192.invalid" as an IP): such flags are dropped, named, and the
 * rest imported.
 */
export async function importDropping(admin: ApiClient, app: string, env: string, state: ClientFeatures): Promise<Map<string, string>> {
  const dropped = new Map<string, string>();
  let features = state.features;
  for (;;) {
    try {
      await admin.request('POST', `/v1/apps/${app}/envs/${env}/flags/import`, { body: { ...state, features } });
      return dropped;
    } catch (e) {
      const problems = e instanceof ApiError ? ((e.details as { problems?: { path: string; message: string }[] } | undefined)?.problems ?? []) : [];
      const at = new Set(problems.flatMap((p) => (/^features\[(\d+)\]/.exec(p.path) ? [Number(/^features\[(\d+)\]/.exec(p.path)![1])] : [])));
      if (at.size === 0) throw e;
      for (const i of at) dropped.set(features[i]!.name, problems.find((p) => p.path.startsWith(`features[${i}]`))!.message);
      features = features.filter((_f, i) => !at.has(i));
    }
  }
}
