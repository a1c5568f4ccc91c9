/**
 * Benchmark proxy under test, in its own process: `builtin` (Rollgate's router) or
 * `http-proxy` (the usual Node choice, given a keep-alive agent for fairness).
 * Usage: proxy-main.js KIND UPSTREAM_PORT. Prints `listening PORT`.
 */
import http from 'node:http';
import httpProxy from 'http-proxy';
import { Router } from '../../agent/router.js';

const kind = process.argv[2];
const upstreamPort = Number(process.argv[3]);

async function main(): Promise<number> {
  if (kind === 'builtin') {
    const router = new Router();
    await router.ensureListener('bench', '127.0.0.1', 0);
    await router.setService({
      env: 'bench',
      app: 'upstream',
      hosts: [],
      routes: { balance: 'weights', weights: { v1: 100 }, headerRoutes: [], sticky: false },
      backends: { v1: [{ id: 'upstream-1', version: 'v1', host: '127.0.0.1', port: upstreamPort }] },
    });
    return router.address('bench')?.port ?? 0;
  }
  if (kind === 'http-proxy') {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
    const proxy = httpProxy.createProxyServer({ target: `http://127.0.0.1:${upstreamPort}`, agent, xfwd: true });
    proxy.on('error', (_e, _req, res) => {
      if (res instanceof http.ServerResponse && !res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
    const server = http.createServer((req, res) => proxy.web(req, res));
    server.keepAliveTimeout = 65_000;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const a = server.address();
    return typeof a === 'object' && a !== null ? a.port : 0;
  }
  throw new Error(`unknown proxy kind ${kind}; use builtin or http-proxy`);
}

main().then(
  (port) => console.log(`listening ${port}`),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
process.on('SIGTERM', () => process.exit(0));
