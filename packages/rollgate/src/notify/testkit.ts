/** A local HTTP receiver for notifier tests: records every request, answers as told. */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { silentLogger, type Logger } from '../engine/logger.js';

export interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** Returns a status to answer with, or 'hang' to never answer. */
export type Responder = (r: Received, index: number) => number | 'hang' | { status: number; headers: Record<string, string> };

export interface Receiver {
  url: string;
  received: Received[];
  respond: Responder;
  /** Resolves once `n` requests have arrived (rejects after `ms`). */
  waitFor(n: number, ms?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startReceiver(respond: Responder = () => 200): Promise<Receiver> {
  const hung = new Set<ServerResponse>();
  const waiters: Array<() => void> = [];
  const rx: Receiver = {
    url: '',
    received: [],
    respond,
    async waitFor(n, ms = 5_000) {
      const t0 = Date.now();
      while (rx.received.length < n) {
        if (Date.now() - t0 > ms) throw new Error(`receiver got ${rx.received.length} requests, expected ${n} within ${ms} ms`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 50).unref();
        });
      }
    },
    async close() {
      for (const res of hung) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: Received = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      const index = rx.received.length;
      rx.received.push(r);
      for (const w of waiters.splice(0)) w();
      const a = rx.respond(r, index);
      if (a === 'hang') {
        hung.add(res);
        return;
      }
      const { status, headers } = typeof a === 'number' ? { status: a, headers: {} } : a;
      res.writeHead(status, { 'content-type': 'text/plain', ...headers });
      res.end(status < 300 ? 'ok' : 'no');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  rx.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return rx;
}

/** A Logger that keeps what it was told (tests look for warnings and for leaked secrets). */
export function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const w = (level: string) => (msg: string, f?: Record<string, unknown>) => {
    lines.push(JSON.stringify({ level, msg, ...f }));
  };
  return { ...silentLogger, lines, info: w('info'), warn: w('warn'), error: w('error') };
}

export function sampleEvent(over: Partial<{ id: number; type: string; app: string | null; env: string | null; deploymentId: string | null; data: unknown; at: string }> = {}) {
  return {
    id: over.id ?? 42,
    at: over.at ?? '2025-01-02T03:04:05.000Z',
    type: over.type ?? 'deployment.finished',
    app: over.app === undefined ? 'web' : over.app,
    env: over.env === undefined ? 'production' : over.env,
    deploymentId: over.deploymentId === undefined ? 'dep-1' : over.deploymentId,
    data: over.data ?? { status: 'succeeded', version: '1.4.2' },
  };
}

/** Rejects naming `what` when `p` is not done within `ms`. */
export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, rej) => (t = setTimeout(() => rej(new Error(`${what}: not done in ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(t);
  }
}
