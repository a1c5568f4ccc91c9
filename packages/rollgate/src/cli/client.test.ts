import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createGunzip } from 'node:zlib';
import { RollgateError } from '../core/errors.js';
import { ApiClient } from './client.js';
import { ApiError, exitCodeFor } from './exit.js';
import { followDeployment } from './follow.js';

type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;

/** A stand-in control plane on a loopback port: enough to test the client's side of the contract. */
async function fakeServer(handler: Handler): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handler(req, res, Buffer.concat(chunks)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const json = (res: ServerResponse, status: number, doc: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(doc));
};

const deployment = (status: string, timeline: { id: number; kind: string; message: string }[] = []) => ({
  id: 'd1',
  app: 'shop',
  env: 'production',
  kind: 'deploy',
  releaseId: 'r1',
  version: 'v2',
  previousReleaseId: null,
  previousVersion: null,
  strategy: { recreate: {} },
  status,
  state: {},
  message: '',
  requestedBy: 'test',
  createdAt: new Date().toISOString(),
  startedAt: null,
  finishedAt: null,
  updatedAt: new Date().toISOString(),
  timeline: timeline.map((t) => ({ ...t, deploymentId: 'd1', at: new Date().toISOString(), data: null })),
  step: null,
  candidateWeight: null,
});

describe('API client', () => {
  let srv: { url: string; close(): Promise<void> };
  let upload: { query: string; bytes: Buffer; auth: string | undefined } | null = null;
  let polls = 0;

  before(async () => {
    srv = await fakeServer((req, res, body) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (req.headers.authorization !== 'Bearer t0k' && url.pathname !== '/v1/health') {
        return json(res, 401, { error: { code: 'unauthorized', message: 'missing token' } });
      }
      if (url.pathname === '/v1/deployments' && req.method === 'POST') {
        return json(res, 409, { error: { code: 'deployment_in_progress', message: 'deployment d0 of shop is in progress in production' } });
      }
      if (url.pathname === '/v1/apps/shop/releases' && req.method === 'POST') {
        upload = { query: url.search, bytes: body, auth: req.headers.authorization };
        return json(res, 201, { id: 'r1', app: 'shop', version: url.searchParams.get('version') });
      }
      if (url.pathname === '/v1/status') return json(res, 500, { error: { code: 'internal', message: 'boom' } });
      if (url.pathname === '/v1/events') return json(res, 404, { error: { code: 'not_found', message: 'no events here' } });
      if (url.pathname === '/v1/deployments/d1') {
        polls++;
        const tl = [{ id: 1, kind: 'started', message: 'started' }];
        if (polls >= 3) tl.push({ id: 2, kind: 'succeeded', message: 'done' });
        return json(res, 200, deployment(polls >= 3 ? 'succeeded' : 'progressing', tl));
      }
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('not json');
    });
  });
  after(() => srv.close());

  test('an {error} answer becomes ApiError with code, message and a usage exit code', async () => {
    const c = new ApiClient(srv.url, 't0k');
    const err = await c.deploy({ app: 'shop', env: 'production', version: 'v2' }).catch((e: unknown) => e);
    assert.ok(err instanceof ApiError);
    assert.equal(err.code, 'deployment_in_progress');
    assert.equal(err.status, 409);
    assert.match(err.message, /d0 of shop/);
    assert.equal(exitCodeFor(err), 2);
    const five = await c.status().catch((e: unknown) => e);
    assert.ok(five instanceof ApiError && five.status === 500);
    assert.equal(exitCodeFor(five), 3);
  });

  test('a 401 without any token says where the token comes from', async () => {
    const err = await new ApiClient(srv.url, null).apps().catch((e: unknown) => e);
    assert.ok(err instanceof ApiError);
    assert.match(err.message, /ROLLGATE_TOKEN/);
  });

  test('a non-JSON answer is reported, not parsed', async () => {
    await assert.rejects(new ApiClient(srv.url, 't0k').apps(), /not JSON/);
  });

  test('a release upload streams the archive with its query', async () => {
    async function* gz() {
      const { gzipSync } = await import('node:zlib');
      const data = gzipSync(Buffer.from('hello release'));
      yield data.subarray(0, 5);
      yield data.subarray(5);
    }
    const rel = await new ApiClient(srv.url, 't0k').uploadRelease('shop', gz(), { version: '1.2.3', commitSha: 'abcdef1' });
    assert.equal(rel.version, '1.2.3');
    assert.ok(upload);
    assert.equal(upload.auth, 'Bearer t0k');
    assert.equal(upload.query, '?version=1.2.3&commitSha=abcdef1');
    const plain = await new Promise<string>((resolve, reject) => {
      const g = createGunzip();
      const out: Buffer[] = [];
      g.on('data', (c: Buffer) => out.push(c)).on('end', () => resolve(Buffer.concat(out).toString())).on('error', reject);
      g.end(upload!.bytes);
    });
    assert.equal(plain, 'hello release');
  });

  test('an unreachable server is `unavailable` naming the URL (exit 3)', async () => {
    const gone = await fakeServer(() => undefined);
    const url = gone.url;
    await gone.close();
    const err = await new ApiClient(url, 't0k').apps().catch((e: unknown) => e);
    assert.ok(err instanceof RollgateError);
    assert.equal(err.code, 'unavailable');
    assert.ok(err.message.includes(url));
    assert.equal(exitCodeFor(err), 3);
  });

  test('following falls back to polling when there is no event stream, until the deployment ends', async () => {
    polls = 0;
    const seen: string[] = [];
    const final = await followDeployment(new ApiClient(srv.url, 't0k'), 'd1', { onView: (v) => void seen.push(v.status) }, { pollMs: 20 });
    assert.equal(final.status, 'succeeded');
    assert.deepEqual(seen, ['progressing', 'progressing', 'succeeded']);
  });
});

describe('following over the event stream', () => {
  test('an event about the deployment wakes the follower (no polling needed)', { timeout: 15_000 }, async () => {
    let polls = 0;
    let streams = 0;
    const timers = new Set<NodeJS.Timeout>();
    const srv = await fakeServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/v1/events') {
        streams++;
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(': hello\n\n');
        let n = 0;
        const t = setInterval(() => {
          n++;
          res.write(`id: ${n}\nevent: deployment\ndata: ${JSON.stringify({ id: n, at: '', type: 'deployment.step', app: 'shop', env: 'production', deploymentId: 'd1', data: null })}\n\n`);
        }, 100);
        timers.add(t);
        res.on('close', () => clearInterval(t));
        return;
      }
      polls++;
      return json(res, 200, deployment(polls >= 3 ? 'succeeded' : 'progressing'));
    });
    try {
      // A poll interval far beyond the test timeout: only the stream can move it along.
      const final = await followDeployment(new ApiClient(srv.url, 't0k'), 'd1', { onView: () => undefined }, { pollMs: 60_000 });
      assert.equal(final.status, 'succeeded');
      assert.equal(streams, 1);
    } finally {
      for (const t of timers) clearInterval(t);
      await srv.close();
    }
  });
});
