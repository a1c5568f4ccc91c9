import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { HttpCheckSource, jsonPathValue } from './http-check.js';
import { metricSourceSuite } from './source.suite.js';
import type { HttpQuery, MeasureContext } from './types.js';

const ctx: Omit<MeasureContext, 'signal'> = { app: 'shop', env: 'production', canary: 'v2+build.1', stable: 'v1', windowMs: 30_000 };
const q = (url: string, over: Partial<HttpQuery> = {}): HttpQuery => ({ url, method: 'GET', headers: {}, timeout: '5s', ...over });

interface Check {
  base: string;
  seen: IncomingMessage[];
  close(): Promise<void>;
}

/** A local service with a few check endpoints. */
async function startCheckServer(): Promise<Check> {
  const seen: IncomingMessage[] = [];
  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const server: Server = createServer((req, res) => {
    seen.push(req);
    const url = new URL(req.url ?? '/', 'http://x');
    switch (url.pathname) {
      case '/ok':
        return json(res, 200, { data: { errorRate: 0.012, ready: true, items: [{ name: 'a' }, { name: 'b' }], nothing: null } });
      case '/created':
        return json(res, 201, { id: 1 });
      case '/down':
        return json(res, 503, { error: 'down' });
      case '/text':
        res.writeHead(200, { 'content-type': 'text/plain' });
        return res.end('fine');
      case '/slow':
        return void setTimeout(() => json(res, 200, { late: true }), 30_000).unref();
      default:
        return json(res, 404, { path: url.pathname, search: url.search });
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    base: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

async function closedPort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

const source = new HttpCheckSource();

metricSourceSuite('http', async () => {
  const srv = await startCheckServer();
  return {
    source,
    ctx,
    okQuery: q(`${srv.base}/ok`, { jsonPath: 'data.errorRate' }),
    okValue: 0.012,
    errorQuery: q(`http://127.0.0.1:${await closedPort()}/health`),
    slowQuery: q(`${srv.base}/slow`, { timeout: '300ms' }),
    slowNaturalMs: 30_000,
    teardown: () => srv.close(),
  };
});

describe('http check metric source', { timeout: 30_000 }, () => {
  let srv: Check;
  const measure = (query: HttpQuery) => source.measure(query, { ...ctx, signal: new AbortController().signal });
  before(async () => {
    srv = await startCheckServer();
  });
  after(() => srv.close());

  test('status: the expected one is 1, another is 0 (a measurement, not an error)', async () => {
    const ok = await measure(q(`${srv.base}/ok`));
    assert.equal(ok.value, 1);
    const down = await measure(q(`${srv.base}/down`));
    assert.equal(down.value, 0);
    assert.equal(down.error, null);
    assert.equal((down.raw as { status: number }).status, 503);
    assert.equal((down.raw as { expected: string }).expected, '2xx');
    assert.equal((await measure(q(`${srv.base}/created`, { expectStatus: 201 }))).value, 1);
    assert.equal((await measure(q(`${srv.base}/ok`, { expectStatus: 201 }))).value, 0);
    assert.equal((await measure(q(`${srv.base}/down`, { expectStatus: 503, method: 'HEAD' }))).value, 1);
  });

  test('jsonPath reads a field; missing, null, non-scalar, non-JSON and wrong status are errors', async () => {
    assert.equal((await measure(q(`${srv.base}/ok`, { jsonPath: 'data.ready' }))).value, true);
    assert.equal((await measure(q(`${srv.base}/ok`, { jsonPath: 'data.items.1.name' }))).value, 'b');
    const missing = await measure(q(`${srv.base}/ok`, { jsonPath: 'data.latency' }));
    assert.match(missing.error ?? '', /has no field "data.latency"/);
    assert.match((await measure(q(`${srv.base}/ok`, { jsonPath: 'data.nothing' }))).error ?? '', /is null; point jsonPath at a number/);
    assert.match((await measure(q(`${srv.base}/ok`, { jsonPath: 'data.items' }))).error ?? '', /is an array/);
    assert.match((await measure(q(`${srv.base}/text`, { jsonPath: 'a' }))).error ?? '', /not JSON \("fine"\)/);
    const down = await measure(q(`${srv.base}/down`, { jsonPath: 'error' }));
    assert.equal(down.value, null);
    assert.match(down.error ?? '', /answered 503, expected 2xx/);
    assert.deepEqual(jsonPathValue({ a: [1, { b: 2 }] }, 'a.1.b'), { ok: true, value: 2 });
    assert.equal(jsonPathValue({ a: 1 }, 'constructor').ok, false, 'only own fields');
  });

  test('method, headers and URL template variables are sent', async () => {
    const before = srv.seen.length;
    const m = await measure(q(`${srv.base}/check/{{app}}/{{canary}}?stable={{stable}}&w={{window}}`, { method: 'POST', headers: { 'x-token': 'abc' }, jsonPath: 'path', expectStatus: 404 }));
    assert.equal(m.value, '/check/shop/v2%2Bbuild.1');
    const req = srv.seen[before]!;
    assert.equal(req.method, 'POST');
    assert.equal(req.headers['x-token'], 'abc');
    assert.equal(req.url, '/check/shop/v2%2Bbuild.1?stable=v1&w=30s');
    const first = await source.measure(q(`${srv.base}/{{stable}}`), { ...ctx, stable: null, signal: new AbortController().signal });
    assert.match(first.error ?? '', /no stable version yet/);
  });

  test('a timeout and a refused connection are errors that say so', async () => {
    const slow = await measure(q(`${srv.base}/slow`, { timeout: '200ms' }));
    assert.equal(slow.value, null);
    assert.match(slow.error ?? '', /^GET http:\/\/127\.0\.0\.1:\d+\/slow timed out after 200ms; raise the metric's timeout/);
    const port = await closedPort();
    const refused = await measure(q(`http://127.0.0.1:${port}/health`));
    assert.equal(refused.value, null);
    assert.match(refused.error ?? '', new RegExp(`GET http://127.0.0.1:${port}/health failed: connection refused`));
  });
});
