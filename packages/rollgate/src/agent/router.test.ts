import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { createHash } from 'node:crypto';
import { Router, type RouterTuning } from './router.js';
import type { RouterOptions } from './router-types.js';
import { RollgateError } from '../core/errors.js';
import { deadPort, request, routes, sleep, startBackend, table, until, versionOf, type TestBackend } from './router-testkit.js';

interface Ctx {
  router: Router;
  port: number;
  backends: TestBackend[];
  add(id: string, version: string, handler?: Parameters<typeof startBackend>[2]): Promise<TestBackend>;
}

/** Runs `fn` with a router listening for env `prod` on an ephemeral port; cleans everything up. */
async function withRouter(opts: RouterOptions & RouterTuning, fn: (c: Ctx) => Promise<void>): Promise<void> {
  const router = new Router({ closeGraceMs: 0, ...opts });
  const backends: TestBackend[] = [];
  try {
    await router.ensureListener('prod', '127.0.0.1', 0);
    const port = router.address('prod')?.port ?? 0;
    await fn({
      router,
      port,
      backends,
      add: async (id, version, handler) => {
        const b = await startBackend(id, version, handler);
        backends.push(b);
        return b;
      },
    });
  } finally {
    await router.close();
    await Promise.all(backends.map((b) => b.close()));
  }
}

async function many(port: number, n: number, headers: http.OutgoingHttpHeaders = {}): Promise<Map<string, number>> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const counts = new Map<string, number>();
  try {
    const replies = await Promise.all(Array.from({ length: n }, () => request(port, { agent, headers })));
    for (const r of replies) {
      assert.equal(r.status, 200, r.body);
      const v = versionOf(r);
      counts.set(v, (counts.get(v) ?? 0) + 1);
    }
  } finally {
    agent.destroy();
  }
  return counts;
}

describe('router: version choice', () => {
  test('weighted split 90/10 stays within a wide tolerance', async () => {
    await withRouter({}, async ({ router, port, add }) => {
      const v1 = await add('a1', 'v1');
      const v2 = await add('b1', 'v2');
      await router.setService(table([v1, v2], routes({ v1: 90, v2: 10 })));
      const counts = await many(port, 1000);
      const n2 = counts.get('v2') ?? 0;
      // Expected 100, sd ≈ 9.5: 40..180 is > 6 sd either way.
      assert.ok(n2 >= 40 && n2 <= 180, `v2 got ${n2} of 1000`);
      assert.equal((counts.get('v1') ?? 0) + n2, 1000);
    });
  });

  test('x-rollgate-version pins a version that has backends; unknown pins fall back to weights', async () => {
    await withRouter({}, async ({ router, port, add }) => {
      const v1 = await add('a1', 'v1');
      const v2 = await add('b1', 'v2');
      await router.setService(table([v1, v2], routes({ v1: 100, v2: 0 })));
      const pinned = await request(port, { headers: { 'x-rollgate-version': 'v2' } });
      assert.equal(versionOf(pinned), 'v2');
      assert.equal(pinned.headers['x-rollgate-version'], 'v2');
      const unknown = await request(port, { headers: { 'x-rollgate-version': 'v9' } });
      assert.equal(versionOf(unknown), 'v1');
    });
  });

  test('header routes send matching requests to their version', async () => {
    await withRouter({}, async ({ router, port, add }) => {
      const v1 = await add('a1', 'v1');
      const v2 = await add('b1', 'v2');
      await router.setService(table([v1, v2], routes({ v1: 100, v2: 0 }, { headerRoutes: [{ header: 'x-canary', value: 'yes', version: 'v2' }] })));
      assert.equal(versionOf(await request(port, { headers: { 'X-Canary': 'yes' } })), 'v2');
      assert.equal(versionOf(await request(port, { headers: { 'x-canary': 'no' } })), 'v1');
      assert.equal(versionOf(await request(port)), 'v1');
    });
  });

  test('sticky cookie pins a client to the version it first got, and is set only when needed', async () => {
    await withRouter({}, async ({ router, port, add }) => {
      const v1 = await add('a1', 'v1');
      const v2 = await add('b1', 'v2');
      await router.setService(table([v1, v2], routes({ v1: 50, v2: 50 }, { sticky: true })));
      const first = await request(port);
      const got = versionOf(first);
      const setCookie = first.headers['set-cookie']?.[0] ?? '';
      assert.match(setCookie, new RegExp(`^rollgate_version=${got};`));
      for (let i = 0; i < 20; i++) {
        const r = await request(port, { headers: { cookie: `other=1; rollgate_version=${got}` } });
        assert.equal(versionOf(r), got);
        assert.equal(r.headers['set-cookie'], undefined);
      }
      // A cookie for a version out of rotation is ignored and replaced.
      await router.setService(table([v1, v2], routes({ v1: 100, v2: 0 }, { sticky: true })));
      const r = await request(port, { headers: { cookie: 'rollgate_version=v2' } });
      assert.equal(versionOf(r), 'v1');
      assert.match(r.headers['set-cookie']?.[0] ?? '', /^rollgate_version=v1;/);
    });
  });

  test('balance "instances" gives every ready instance an equal share', async () => {
    await withRouter({}, async ({ router, port, add }) => {
      const old = await add('a1', 'v1');
      const fresh = await Promise.all([add('b1', 'v2'), add('b2', 'v2'), add('b3', 'v2')]);
      await router.setService(table([old, ...fresh], routes({ v1: 50, v2: 50 }, { balance: 'instances' })));
      const counts = await many(port, 400);
      assert.equal(counts.get('v1'), 100);
      assert.equal(counts.get('v2'), 300);
    });
  });

  test('a weighted version without backends is skipped; with none weighted, any version serves', async () => {
    await withRouter({}, async ({ router, port, add }) => {
      const v1 = await add('a1', 'v1');
      await router.setService(table([v1], routes({ v1: 20, v2: 80 })));
      const counts = await many(port, 50);
      assert.equal(counts.get('v1'), 50);
      await router.setService(table([v1], routes({ v2: 100 })));
      assert.equal(versionOf(await request(port)), 'v1');
    });
  });

  test('no backend → 503 no_backend; no routes → 503; unknown host → 404', async () => {
    await withRouter({}, async ({ router, port }) => {
      const none = await request(port);
      assert.equal(none.status, 404);
      assert.equal((JSON.parse(none.body) as { error: { code: string } }).error.code, 'not_found');
      await router.setService({ env: 'prod', app: 'web', hosts: [], routes: null, backends: {} });
      const noRoutes = await request(port);
      assert.equal(noRoutes.status, 503);
      await router.setService({ env: 'prod', app: 'web', hosts: [], routes: routes({ v1: 100 }), backends: {} });
      const r = await request(port);
      assert.equal(r.status, 503);
      const e = JSON.parse(r.body) as { error: { code: string; message: string } };
      assert.equal(e.error.code, 'no_backend');
      assert.match(e.error.message, /no ready instance/);
    });
  });

  test('apps share a listener by Host header', async () => {
    await withRouter({}, async ({ router, port, add }) => {
      const a = await add('a1', 'va');
      const b = await add('b1', 'vb');
      await router.setService(table([a], routes({ va: 100 }), { app: 'shop', hosts: ['Shop.Example'] }));
      await router.setService(table([b], routes({ vb: 100 }), { app: 'blog', hosts: ['blog.example'] }));
      assert.equal(versionOf(await request(port, { headers: { host: 'shop.example:8080' } })), 'va');
      assert.equal(versionOf(await request(port, { headers: { host: 'BLOG.example' } })), 'vb');
      assert.equal((await request(port, { headers: { host: 'other.example' } })).status, 404);
      await router.setService(table([b], routes({ vb: 100 }), { app: 'blog', hosts: [] }));
      assert.equal(versionOf(await request(port, { headers: { host: 'other.example' } })), 'vb');
      await router.removeService('prod', 'blog');
      assert.equal((await request(port, { headers: { host: 'other.example' } })).status, 404);
    });
  });
});

describe('router: proxying', () => {
  test('forwards X-Forwarded-*, strips hop-by-hop fields both ways', async () => {
    await withRouter({}, async ({ router, port, add }) => {
      const v1 = await add('a1', 'v1', (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain', connection: 'x-secret', 'x-secret': 'hop', 'x-kept': 'end-to-end' });
        res.end('ok');
      });
      await router.setService(table([v1], routes({ v1: 100 })));
      const r = await request(port, { headers: { host: 'app.test', connection: 'x-drop', 'x-drop': '1', 'x-forwarded-for': '10.0.0.1', 'keep-alive': 'timeout=5' } });
      assert.equal(r.status, 200);
      assert.equal(r.body, 'ok');
      assert.equal(r.headers['x-kept'], 'end-to-end');
      assert.equal(r.headers['x-secret'], undefined);
      const seen = v1.seen[0] ?? {};
      assert.equal(seen['x-forwarded-for'], '10.0.0.1, 127.0.0.1');
      assert.equal(seen['x-forwarded-proto'], 'http');
      assert.equal(seen['x-forwarded-host'], 'app.test');
      assert.equal(seen.host, 'app.test');
      assert.equal(seen['x-drop'], undefined);
      assert.equal(seen['keep-alive'], undefined);
    });
  });

  test('streams a large request body and a chunked response without buffering', async () => {
    await withRouter({}, async ({ router, port, add }) => {
      let release: () => void = () => {};
      const released = new Promise<void>((r) => (release = r));
      const v1 = await add('a1', 'v1', (req, res) => {
        if (req.url === '/echo') {
          res.writeHead(200, { 'content-type': 'application/octet-stream' });
          req.pipe(res);
          return;
        }
        res.writeHead(200, { 'content-type': 'text/plain' }); // no length: chunked
        res.write('first;');
        void released.then(() => res.end('second'));
      });
      await router.setService(table([v1], routes({ v1: 100 })));

      const big = Buffer.alloc(4 * 1024 * 1024);
      for (let i = 0; i < big.length; i++) big[i] = (i * 31) % 251;
      const digest = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');
      const withLength = await request(port, { method: 'POST', path: '/echo', body: big });
      assert.equal(withLength.status, 200);
      // Compare bytes, not text.
      const echoed = await new Promise<Buffer>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/echo', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
          const parts: Buffer[] = [];
          res.on('data', (c: Buffer) => parts.push(c));
          res.on('end', () => resolve(Buffer.concat(parts)));
        });
        req.on('error', reject);
        for (let off = 0; off < big.length; off += 256 * 1024) req.write(big.subarray(off, off + 256 * 1024));
        req.end();
      });
      assert.equal(digest(echoed), digest(big));

      // The first chunk must arrive while the backend still holds the rest.
      const text = await new Promise<string>((resolve, reject) => {
        const req = http.get({ host: '127.0.0.1', port, path: '/stream' }, (res) => {
          assert.equal(res.headers['transfer-encoding'], 'chunked');
          let acc = '';
          res.on('data', (c: Buffer) => {
            acc += c.toString();
            if (acc === 'first;') release();
          });
          res.on('end', () => resolve(acc));
        });
        req.setTimeout(5000, () => req.destroy(new Error('response was buffered: first chunk never arrived alone')));
        req.on('error', reject);
      });
      assert.equal(text, 'first;second');
    });
  });

  test('keeps connections alive on both sides', async () => {
    await withRouter({}, async ({ router, port, add }) => {
      const v1 = await add('a1', 'v1');
      await router.setService(table([v1], routes({ v1: 100 })));
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        let reused = 0;
        for (let i = 0; i < 30; i++) {
          const r = await request(port, { agent });
          assert.equal(r.status, 200);
          if (r.reusedSocket) reused++;
        }
        assert.equal(reused, 29);
        assert.equal(v1.connections, 1);
      } finally {
        agent.destroy();
      }
    });
  });

  test('HEAD, 204 and 304 responses carry no body and keep the connection usable', async () => {
    await withRouter({}, async ({ router, port, add }) => {
      const v1 = await add('a1', 'v1', (req, res) => {
        if (req.url === '/204') res.writeHead(204).end();
        else if (req.url === '/304') res.writeHead(304, { etag: '"x"' }).end();
        else res.writeHead(200, { 'content-length': 5 }).end(req.method === 'HEAD' ? undefined : 'hello');
      });
      await router.setService(table([v1], routes({ v1: 100 })));
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        const head = await request(port, { method: 'HEAD', agent });
        assert.equal(head.status, 200);
        assert.equal(head.headers['content-length'], '5');
        assert.equal(head.body, '');
        assert.equal((await request(port, { path: '/204', agent })).status, 204);
        assert.equal((await request(port, { path: '/304', agent })).status, 304);
        assert.equal((await request(port, { agent })).body, 'hello');
        assert.equal(v1.connections, 1);
      } finally {
        agent.destroy();
      }
    });
  });

  test('passes WebSocket upgrades through to the chosen version', async () => {
    await withRouter({}, async ({ router, port, add }) => {
      const v2 = await add('b1', 'v2');
      let upgradeHeaders: http.IncomingHttpHeaders = {};
      v2.server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
        upgradeHeaders = req.headers;
        socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
        socket.on('data', (d: Buffer) => socket.write(Buffer.concat([Buffer.from('echo:'), d])));
      });
      await router.setService(table([v2], routes({ v2: 100 })));
      const socket = await new Promise<net.Socket>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port, headers: { connection: 'Upgrade', upgrade: 'websocket' } });
        req.on('upgrade', (res: http.IncomingMessage, s: net.Socket) => {
          assert.equal(res.statusCode, 101);
          resolve(s);
        });
        req.on('response', () => reject(new Error('expected an upgrade')));
        req.on('error', reject);
        req.end();
      });
      try {
        const reply = new Promise<string>((resolve) => socket.once('data', (d: Buffer) => resolve(d.toString())));
        socket.write('ping');
        assert.equal(await reply, 'echo:ping');
        assert.equal(upgradeHeaders.upgrade, 'websocket');
        assert.equal(upgradeHeaders['x-forwarded-for'], '127.0.0.1');
        assert.equal(router.inFlight('b1'), 1);
      } finally {
        socket.destroy();
      }
      await until(() => router.inFlight('b1') === 0, 3000, 'tunnel to close');
      assert.equal(router.metrics('prod', 'web').v2?.byClass['1xx'], 1);
    });
  });

  test('a request in progress keeps its backend when the table is swapped', async () => {
    await withRouter({}, async ({ router, port, add }) => {
      const slow = await add('a1', 'v1', (_req, res) => {
        setTimeout(() => res.end(JSON.stringify({ version: 'v1' })), 300);
      });
      const v2 = await add('b1', 'v2');
      await router.setService(table([slow], routes({ v1: 100 })));
      const pending = request(port);
      await until(() => router.inFlight('a1') === 1, 2000, 'request to reach v1');
      await router.setService(table([v2], routes({ v2: 100 })));
      assert.equal(versionOf(await request(port)), 'v2');
      assert.equal(router.inFlight('a1'), 1);
      const r = await pending;
      assert.equal(r.status, 200);
      assert.equal(versionOf(r), 'v1');
      assert.equal(router.inFlight('a1'), 0);
      router.releaseBackend('a1');
    });
  });

  test('upstream timeout answers 504', async () => {
    await withRouter({ upstreamTimeoutMs: 200 }, async ({ router, port, add }) => {
      const v1 = await add('a1', 'v1', () => {
        /* never answers */
      });
      await router.setService(table([v1], routes({ v1: 100 })));
      const r = await request(port);
      assert.equal(r.status, 504);
      assert.equal((JSON.parse(r.body) as { error: { code: string } }).error.code, 'upstream_timeout');
      assert.equal(router.metrics('prod', 'web').v1?.upstreamErrors, 1);
    });
  });
});

describe('router: failures', () => {
  test('retries idempotent requests on another backend; a POST with a body gets 502', async () => {
    await withRouter({ ejectAfterFailures: 1000 }, async ({ router, port, add }) => {
      const live = await add('a1', 'v1');
      const dead = { id: 'a2', version: 'v1', host: '127.0.0.1', port: await deadPort() };
      await router.setService({ env: 'prod', app: 'web', hosts: [], routes: routes({ v1: 100 }), backends: { v1: [live.backend, dead] } });
      for (let i = 0; i < 20; i++) {
        const r = await request(port, { method: i % 2 === 0 ? 'GET' : 'DELETE' });
        assert.equal(r.status, 200, r.body);
      }
      const m = router.metrics('prod', 'web').v1;
      assert.ok((m?.retries ?? 0) >= 9, `retries ${m?.retries}`);
      assert.equal(m?.upstreamErrors, 0);
      const posts = await Promise.all([1, 2, 3, 4].map(() => request(port, { method: 'POST', body: 'payload' })));
      const codes = posts.map((p) => p.status).sort();
      assert.deepEqual(codes, [200, 200, 502, 502]);
      const bad = posts.find((p) => p.status === 502);
      assert.equal((JSON.parse(bad?.body ?? '{}') as { error: { code: string } }).error.code, 'upstream_unavailable');
      assert.equal(router.metrics('prod', 'web').v1?.upstreamErrors, 2);
    });
  });

  test('idle upstream connections the backend closed are never reused', async () => {
    // A keep-alive backend that gives no Keep-Alive hint and closes idle sockets after 30 ms.
    let connections = 0;
    const raw = net.createServer((s) => {
      connections++;
      s.on('data', () => {
        s.write('HTTP/1.1 200 OK\r\ncontent-length: 16\r\n\r\n{"version":"v1"}');
        setTimeout(() => s.end(), 30);
      });
    });
    await new Promise<void>((r) => raw.listen(0, '127.0.0.1', () => r()));
    try {
      await withRouter({}, async ({ router, port }) => {
        const backend = { id: 'r1', version: 'v1', host: '127.0.0.1', port: (raw.address() as net.AddressInfo).port };
        await router.setService({ env: 'prod', app: 'web', hosts: [], routes: routes({ v1: 100 }), backends: { v1: [backend] } });
        for (let i = 0; i < 4; i++) {
          assert.equal((await request(port)).status, 200);
          await sleep(100);
        }
        assert.equal(connections, 4);
        assert.equal(router.metrics('prod', 'web').v1?.retries, 0);
      });
    } finally {
      await new Promise<void>((r) => raw.close(() => r()));
    }
  });

  test('relays until-close bodies and split heads, skips 1xx, cuts a response the upstream abandons', async () => {
    const raw = net.createServer((s) => {
      s.once('data', (d: Buffer) => {
        if (d.toString().startsWith('GET /split')) {
          // An informational answer first, then a head that arrives in two reads.
          s.write('HTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\ncontent-le');
          setTimeout(() => s.end('ngth: 5\r\nx-split: yes\r\n\r\nhello'), 30);
        } else if (d.toString().startsWith('GET /cut')) {
          s.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial');
          setTimeout(() => s.destroy(), 20);
        } else s.end('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil-close body');
      });
    });
    await new Promise<void>((r) => raw.listen(0, '127.0.0.1', () => r()));
    try {
      await withRouter({}, async ({ router, port }) => {
        const backend = { id: 'r1', version: 'v1', host: '127.0.0.1', port: (raw.address() as net.AddressInfo).port };
        await router.setService({ env: 'prod', app: 'web', hosts: [], routes: routes({ v1: 100 }), backends: { v1: [backend] } });
        const whole = await request(port);
        assert.equal(whole.status, 200);
        assert.equal(whole.body, 'until-close body');
        const split = await request(port, { path: '/split' });
        assert.equal(split.status, 200);
        assert.equal(split.body, 'hello');
        assert.equal(split.headers['x-split'], 'yes');
        await assert.rejects(request(port, { path: '/cut' }), /aborted|socket hang up|ECONNRESET/);
        await until(() => router.metrics('prod', 'web').v1?.upstreamErrors === 1, 2000, 'upstream error to be counted');
        assert.equal(router.inFlight('r1'), 0);
      });
    } finally {
      await new Promise<void>((r) => raw.close(() => r()));
    }
  });

  test('retry moves to another version when the chosen one cannot be reached', async () => {
    await withRouter({ ejectAfterFailures: 1000 }, async ({ router, port, add }) => {
      const v1 = await add('a1', 'v1');
      const dead = { id: 'b1', version: 'v2', host: '127.0.0.1', port: await deadPort() };
      await router.setService({ env: 'prod', app: 'web', hosts: [], routes: routes({ v1: 50, v2: 50 }), backends: { v1: [v1.backend], v2: [dead] } });
      const counts = await many(port, 40);
      assert.equal(counts.get('v1'), 40);
      assert.ok((router.metrics('prod', 'web').v2?.retries ?? 0) > 0);
    });
  });

  test('ejects a failing backend, readmits it after the ejection time, never ejects the last one', async () => {
    const events: string[] = [];
    await withRouter(
      { ejectAfterFailures: 3, baseEjectionMs: 300, onBackendState: (id, ejected) => events.push(`${id}:${ejected ? 'out' : 'in'}`) },
      async ({ router, port, add }) => {
        let failing = true;
        const bad = await add('a1', 'v1', (_req, res) => {
          if (failing) res.writeHead(500).end('{"version":"v1"}');
          else res.end('{"version":"v1"}');
        });
        const good = await add('a2', 'v1');
        await router.setService(table([bad, good], routes({ v1: 100 })));
        for (let i = 0; i < 6; i++) await request(port);
        assert.deepEqual(events, ['a1:out']);
        assert.equal(router.isEjected('a1'), true);
        const before = bad.seen.length;
        for (let i = 0; i < 10; i++) assert.equal((await request(port)).status, 200);
        assert.equal(bad.seen.length, before, 'ejected backend got traffic');
        failing = false;
        await until(() => events.length === 2, 3000, 'readmission');
        assert.deepEqual(events, ['a1:out', 'a1:in']);
        for (let i = 0; i < 4; i++) assert.equal((await request(port)).status, 200);
        assert.ok(bad.seen.length > before, 'readmitted backend got no traffic');

        // Only one backend left in the service: it keeps serving (its errors) instead of being ejected.
        failing = true;
        await router.setService(table([bad], routes({ v1: 100 })));
        for (let i = 0; i < 10; i++) assert.equal((await request(port)).status, 500);
        assert.equal(router.isEjected('a1'), false);
      },
    );
  });
});

describe('router: circuit breaking per version', () => {
  test('a version whose every instance is ejected gets no traffic while another version serves', async () => {
    await withRouter({ ejectAfterFailures: 3, baseEjectionMs: 60_000 }, async ({ router, port, add }) => {
      const good1 = await add('s1', 'stable');
      const good2 = await add('s2', 'stable');
      const bad = await add('c1', 'canary', (_req, res) => res.writeHead(500).end('{"version":"canary"}'));
      await router.setService(table([good1, good2, bad], routes({ stable: 50, canary: 50 })));
      let failures = 0;
      for (let i = 0; i < 40; i++) if ((await request(port)).status !== 200) failures++;
      assert.equal(router.isEjected('c1'), true);
      assert.ok(failures <= 3, `the canary failed ${failures} requests before its ejection`);
      const seen = bad.seen.length;
      for (let i = 0; i < 30; i++) {
        const r = await request(port);
        assert.equal(r.status, 200);
        assert.equal(versionOf(r), 'stable');
      }
      assert.equal(bad.seen.length, seen, 'the ejected version got traffic');
    });
  });
});

describe('router: listeners, preview, metrics', () => {
  test('port_in_use when the address is taken', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as net.AddressInfo).port;
    const router = new Router();
    try {
      await assert.rejects(router.ensureListener('production', '127.0.0.1', port), (e: unknown) => {
        assert.ok(e instanceof RollgateError);
        assert.equal(e.code, 'port_in_use');
        assert.match(e.message, new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use.*environment "production"`));
        return true;
      });
    } finally {
      await router.close();
      await new Promise<void>((r) => blocker.close(() => r()));
    }
  });

  test('blue-green preview listener sends everything to the preview version and closes with it', async () => {
    await withRouter({}, async ({ router, port, add }) => {
      const blue = await add('a1', 'blue');
      const green = await add('b1', 'green');
      await router.setService(table([blue, green], routes({ blue: 100 }, { preview: { port: 0, version: 'green' } })));
      const pv = router.previewAddress('prod', 'web');
      assert.ok(pv);
      assert.equal(versionOf(await request(pv.port)), 'green');
      assert.equal(versionOf(await request(pv.port, { headers: { 'x-rollgate-version': 'blue' } })), 'green');
      assert.equal(versionOf(await request(port)), 'blue');
      await router.setService(table([blue, green], routes({ green: 100 })));
      assert.equal(router.previewAddress('prod', 'web'), null);
      await assert.rejects(request(pv.port), /ECONNREFUSED/);
      assert.equal(versionOf(await request(port)), 'green');
    });
  });

  test('per-version metrics and Prometheus text', async () => {
    await withRouter({}, async ({ router, port, add }) => {
      const v1 = await add('a1', 'v1', (req, res) => {
        res.writeHead(req.url === '/missing' ? 404 : req.url === '/boom' ? 503 : 200).end('{"version":"v1"}');
      });
      await router.setService(table([v1], routes({ v1: 100 }), { app: 'we"b\\x' }));
      for (let i = 0; i < 5; i++) await request(port);
      await request(port, { path: '/missing' });
      await request(port, { path: '/boom' });
      const m = router.metrics('prod', 'we"b\\x').v1;
      assert.ok(m);
      assert.equal(m.requests, 7);
      assert.deepEqual(m.byClass, { '2xx': 5, '3xx': 0, '4xx': 1, '5xx': 1 });
      assert.equal(m.latency.count, 7);
      assert.equal(m.latency.counts.length, m.latency.boundsMs.length + 1);
      assert.equal(m.latency.counts.at(-1), 7);
      for (let i = 1; i < m.latency.counts.length; i++) assert.ok((m.latency.counts[i] ?? 0) >= (m.latency.counts[i - 1] ?? 0));

      const text = router.renderPrometheus();
      const labels = 'env="prod",app="we\\"b\\\\x",version="v1"';
      assert.ok(text.includes(`rollgate_requests_total{${labels},code_class="2xx"} 5\n`), text);
      assert.ok(text.includes(`rollgate_requests_total{${labels},code_class="5xx"} 1\n`));
      assert.ok(text.includes(`rollgate_upstream_errors_total{${labels}} 0\n`));
      assert.ok(text.includes(`rollgate_retries_total{${labels}} 0\n`));
      assert.ok(text.includes(`rollgate_request_duration_seconds_bucket{${labels},le="+Inf"} 7\n`));
      assert.ok(text.includes(`rollgate_request_duration_seconds_count{${labels}} 7\n`));
      assert.match(text, /# TYPE rollgate_request_duration_seconds histogram/);
      assert.match(text, /rollgate_request_duration_seconds_bucket\{[^}]*le="0\.001"\} \d+/);
      // Every sample line is `name{labels} value`.
      for (const line of text.trimEnd().split('\n')) {
        if (!line.startsWith('#')) assert.match(line, /^[a-z_]+\{.*\} [0-9.e+-]+$/, line);
      }
    });
  });

  test('releaseBackend closes idle upstream connections', async () => {
    await withRouter({}, async ({ router, port, add }) => {
      const v1 = await add('a1', 'v1');
      let closed = 0;
      v1.server.on('connection', (s: net.Socket) => s.on('close', () => closed++));
      await router.setService(table([v1], routes({ v1: 100 })));
      await request(port);
      assert.equal(v1.connections, 1);
      await router.setService(table([], routes({ v1: 100 })));
      router.releaseBackend('a1');
      await until(() => closed === 1, 2000, 'idle upstream connection to close');
      await sleep(10);
    });
  });
});
