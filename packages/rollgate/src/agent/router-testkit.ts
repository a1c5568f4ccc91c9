/**
 * Helpers for the router's tests: real HTTP backends on 127.0.0.1 and a small client.
 * Not used by the product.
 */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { RouteSpec } from '../core/dataplane.js';
import type { Backend, ServiceTable } from './router-types.js';

export interface TestBackend {
  backend: Backend;
  server: http.Server;
  /** Connections the backend accepted (keep-alive reuse shows as few). */
  connections: number;
  /** Heads of the requests it received. */
  seen: http.IncomingHttpHeaders[];
  close(): Promise<void>;
}

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse, b: TestBackend) => void;

const defaultHandler: Handler = (_req, res, b) => {
  const body = JSON.stringify({ version: b.backend.version, id: b.backend.id });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
};

export async function startBackend(id: string, version: string, handler: Handler = defaultHandler): Promise<TestBackend> {
  const server = http.createServer();
  const sockets = new Set<net.Socket>();
  const tb: TestBackend = {
    backend: { id, version, host: '127.0.0.1', port: 0 },
    server,
    connections: 0,
    seen: [],
    close: async () => {
      server.closeAllConnections();
      // Upgraded sockets are no longer tracked by the HTTP server.
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  server.on('connection', (s: net.Socket) => {
    tb.connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('request', (req, res) => {
    tb.seen.push(req.headers);
    handler(req, res, tb);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  tb.backend.port = (server.address() as AddressInfo).port;
  return tb;
}

/** A port on 127.0.0.1 that nothing listens on (connections are refused). */
export async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  reusedSocket: boolean;
}

export interface RequestOpts {
  method?: string;
  path?: string;
  headers?: http.OutgoingHttpHeaders;
  body?: string | Buffer;
  agent?: http.Agent | false;
  timeoutMs?: number;
}

export function request(port: number, o: RequestOpts = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method: o.method ?? 'GET', path: o.path ?? '/', headers: o.headers, agent: o.agent ?? false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString(), reusedSocket: req.reusedSocket }),
        );
        res.on('error', reject);
      },
    );
    req.setTimeout(o.timeoutMs ?? 10_000, () => req.destroy(new Error('test request timed out')));
    req.on('error', reject);
    req.end(o.body);
  });
}

export function routes(weights: Record<string, number>, extra: Partial<RouteSpec> = {}): RouteSpec {
  return { balance: 'weights', weights, headerRoutes: [], sticky: false, ...extra };
}

export function table(backends: TestBackend[], r: RouteSpec | null, extra: Partial<ServiceTable> = {}): ServiceTable {
  const byVersion: Record<string, Backend[]> = {};
  for (const b of backends) (byVersion[b.backend.version] ??= []).push({ ...b.backend });
  return { env: 'prod', app: 'web', hosts: [], routes: r, backends: byVersion, ...extra };
}

export function versionOf(r: Reply): string {
  return (JSON.parse(r.body) as { version: string }).version;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls until `cond` holds or fails after `ms`. */
export async function until(cond: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}
