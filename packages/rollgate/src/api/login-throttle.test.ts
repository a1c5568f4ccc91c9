/**
 * Login throttling and aggregated failed-login audit against the real server (real agent
 * process, real store: SQLite and PostgreSQL). Distinct client addresses come from binding the
 * client socket to other loopback addresses (127.0.0.0/8 is all loopback on Linux). The server's
 * login clock is moved by the test instead of waiting out each delay.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiClient } from '../cli/client.js';
import { freePort } from '../demo/fixtures.js';
import { rollgate, type Run } from '../test/cli-run.js';
import type { AuditEntry, AuditVerifyResult } from '../engine/audit.js';
import { silentLogger } from '../engine/logger.js';
import { runServer, type RunningServer } from '../server/main.js';
import type { LoginFailureWindowRecord } from '../store/auth-types.js';
import { withPostgres } from '../test/pg.js';
import { SplitPlatform } from '../test/split-platform.js';

interface LoginAnswer {
  status: number;
  body: { error?: { code: string; message: string }; user?: string };
  retryAfter: number | null;
}

/** POST /v1/auth/login from the given local (loopback) address. */
function login(base: string, from: string, user: string, password: string): Promise<LoginAnswer> {
  const body = JSON.stringify({ user, password });
  return new Promise((ok, fail) => {
    const req = httpRequest(`${base}/v1/auth/login`, { method: 'POST', localAddress: from, agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        const ra = res.headers['retry-after'];
        ok({ status: res.statusCode ?? 0, body: JSON.parse(text) as LoginAnswer['body'], retryAfter: ra === undefined ? null : Number(ra) });
      });
    });
    req.on('error', fail);
    req.end(body);
  });
}

function cli(args: string[], server: string, token: string): Promise<Run> {
  return rollgate(tmpdir(), args, 120_000, { PATH: process.env.PATH, HOME: tmpdir(), ROLLGATE_SERVER: server, ROLLGATE_TOKEN: token });
}

const WRONG = 'not the admin password';

function throttleSuite(name: string, databaseUrl: () => string | undefined): void {
  describe(name, () => {
    let work: string;
    let dataDir: string;
    let platform: SplitPlatform;
    let agent: { url: string; token: string };
    let server: RunningServer;
    let admin: ApiClient;
    let password: string;
    let port: number;
    // The server's login clock: starts now, moved by the tests.
    let clock = Date.now();

    const start = async () => {
      const url = databaseUrl();
      server = await runServer({ dataDir, port, agent, log: silentLogger, auth: { now: () => new Date(clock) }, ...(url ? { databaseUrl: url } : {}) });
      admin = new ApiClient(server.url, server.token!);
    };
    const loginEntries = async () => (await admin.request<AuditEntry[]>('GET', '/v1/audit', { query: { action: 'auth.login_*', limit: 1000 } })).reverse();

    before(async () => {
      work = await mkdtemp(join(tmpdir(), 'rollgate-throttle-'));
      dataDir = join(work, '.rollgate');
      platform = new SplitPlatform(dataDir);
      await platform.startAgent();
      agent = await platform.agentConnection();
      port = await freePort();
      await start();
      assert.ok(server.initialAdmin, 'a fresh data directory creates the admin');
      password = server.initialAdmin.password;
    });

    after(async () => {
      await server?.stop();
      await platform?.stopAll();
      await rm(work, { recursive: true, force: true });
    });

    test('an attacker address failing on admin gets growing waits; admin from another address is never refused', async () => {
      const attacker = '127.0.0.2';
      for (let i = 0; i < 5; i++) assert.equal((await login(server.url, attacker, 'admin', WRONG)).status, 401, `free failure ${i + 1}`);
      const waits: number[] = [];
      for (let i = 0; i < 10; i++) {
        assert.equal((await login(server.url, attacker, 'admin', WRONG)).status, 401, 'after its wait, an attempt is checked again');
        const refused = await login(server.url, attacker, 'admin', password);
        assert.equal(refused.status, 429, 'during the wait even the right password from that address waits');
        assert.equal(refused.body.error?.code, 'too_many_requests');
        assert.match(refused.body.error?.message ?? '', new RegExp(`wait ${refused.retryAfter} seconds? \\(until .+Z\\) and try again`));
        assert.match(refused.body.error?.message ?? '', /other addresses are not affected/);
        waits.push(refused.retryAfter!);
        // The admin, from another address, meanwhile: logged in every time.
        const mine = await login(server.url, '127.0.0.3', 'admin', password);
        assert.equal(mine.status, 200, JSON.stringify(mine.body));
        clock += refused.retryAfter! * 1000;
      }
      assert.deepEqual(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512], 'each failure doubles the wait');
      // One more failure: the wait is there again, and larger.
      assert.equal((await login(server.url, attacker, 'admin', WRONG)).status, 401);
      assert.equal((await login(server.url, attacker, 'admin', password)).retryAfter, 900, 'capped at 15 minutes');
    });

    test('the waits survive a restart; an admin clears them through the API and the CLI, on the audit trail', async () => {
      await server.stop();
      await start();
      assert.equal((await login(server.url, '127.0.0.2', 'admin', password)).status, 429, 'still waiting after the restart');

      const r = await admin.request<{ cleared: { scope: string; address: string }[] }>('POST', '/v1/users/admin/unlock', { body: { address: '127.0.0.2' } });
      assert.deepEqual(r.cleared.map((c) => [c.scope, c.address]).sort(), [['account', '127.0.0.2'], ['address', '127.0.0.2']]);
      assert.equal((await login(server.url, '127.0.0.2', 'admin', password)).status, 200, 'cleared');
      const unlocks = await admin.request<AuditEntry[]>('GET', '/v1/audit', { query: { action: 'users.unlock' } });
      assert.equal(unlocks.length, 1);
      assert.equal(unlocks[0]!.actor, 'user:admin');
      assert.equal(unlocks[0]!.target, 'user/admin');

      for (let i = 0; i < 6; i++) await login(server.url, '127.0.0.4', 'admin', WRONG);
      assert.equal((await login(server.url, '127.0.0.4', 'admin', password)).status, 429);
      const out = await cli(['users', 'unlock', 'admin', '--address', '127.0.0.4'], server.url, server.token!);
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stdout, /cleared login waits of admin from 127\.0\.0\.4/);
      assert.equal((await login(server.url, '127.0.0.4', 'admin', password)).status, 200);
      const bad = await cli(['users', 'unlock', 'admin', '--address', 'not-an-address'], server.url, server.token!);
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /--address takes an IPv4 or IPv6 address/);
      const ghost = await admin.request('POST', '/v1/users/nobody-at-all/unlock', { body: {} }).catch((e: unknown) => e);
      assert.match(String(ghost), /no user "nobody-at-all"/);
    });

    test('300 failed logins from one address write a bounded number of audit entries with their counts; audit verify stays intact', async () => {
      const from = '127.0.0.5';
      const before = (await loginEntries()).filter((e) => e.source.address === from);
      assert.equal(before.length, 0);
      for (let i = 0; i < 300; i++) {
        const r = await login(server.url, from, 'admin', WRONG);
        assert.ok(r.status === 401 || r.status === 429, String(r.status));
      }
      const during = (await loginEntries()).filter((e) => e.source.address === from);
      assert.deepEqual(
        during.map((e) => e.action),
        ['auth.login_failed', 'auth.login_throttled'],
        'the first failure and the first refusal of the window, not one entry per attempt',
      );
      const windows = await admin.request<LoginFailureWindowRecord[]>('GET', '/v1/audit/logins', { query: { since: '1h' } });
      const w = windows.find((x) => x.address === from && x.name === 'admin');
      assert.ok(w, JSON.stringify(windows));
      assert.equal(w.failures + w.refused, 300, 'every attempt counted');
      assert.equal(w.failures, 6, 'five free failures and the one that started the wait were checked');

      // The next window: its first failure writes its entry and summarises the closed one.
      clock += 11 * 60_000;
      assert.equal((await login(server.url, from, 'admin', WRONG)).status, 401);
      const later = (await loginEntries()).filter((e) => e.source.address === from);
      assert.deepEqual(later.map((e) => e.action), ['auth.login_failed', 'auth.login_throttled', 'auth.login_failed', 'auth.login_failed_summary']);
      const summary = later[3]!.after as { failures: number; refused: number; attempts: number; window: { start: string } };
      assert.deepEqual([summary.failures, summary.refused, summary.attempts, summary.window.start], [6, 294, 300, w.windowStart]);

      const shown = await cli(['audit', 'logins', '--since', '1h'], server.url, server.token!);
      assert.equal(shown.code, 0, shown.stderr);
      assert.match(shown.stdout, /admin\s+127\.0\.0\.5\s+6\s+294/);

      const v = await admin.request<AuditVerifyResult>('GET', '/v1/audit/verify');
      assert.equal(v.ok, true, JSON.stringify(v));
    });

    test('spraying many names from one address: the address waits for every name, other addresses do not; entries stay bounded', async () => {
      const from = '127.0.0.6';
      const statuses: number[] = [];
      for (let i = 0; i < 60; i++) statuses.push((await login(server.url, from, `spray-${i}`, WRONG)).status);
      assert.equal(statuses.filter((s) => s === 401).length, 21, 'twenty free failures and the one that started the wait');
      const r = await login(server.url, from, 'admin', password);
      assert.equal(r.status, 429);
      assert.match(r.body.error?.message ?? '', /from your address 127\.0\.0\.6 \(all user names together\)/);
      assert.equal((await login(server.url, '127.0.0.7', 'admin', password)).status, 200);
      const entries = (await loginEntries()).filter((e) => e.source.address === from);
      // One entry per name that was checked (the throttle bounds how many), one for all the refusals.
      assert.equal(entries.filter((e) => e.action === 'auth.login_failed').length, 21);
      assert.deepEqual(entries.filter((e) => e.action === 'auth.login_throttled').map((e) => e.target), ['user/*']);
      const windows = await admin.request<LoginFailureWindowRecord[]>('GET', '/v1/audit/logins', { query: { since: '1h' } });
      assert.equal(windows.find((x) => x.address === from && x.name === '*')?.refused, 40, 'the refusals of the address, counted under *');
      // Stopping the server summarises the open windows (none here has more than one attempt).
      await server.stop();
      await start();
      const v = await admin.request<AuditVerifyResult>('GET', '/v1/audit/verify');
      assert.equal(v.ok, true, JSON.stringify(v));
    });
  });
}

throttleSuite('login throttling on SQLite', () => undefined);

await withPostgres('login throttling on PostgreSQL', (db) => {
  throttleSuite('login throttling on PostgreSQL', () => db.url);
  after(() => db.drop());
});
