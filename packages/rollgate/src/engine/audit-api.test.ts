/**
 * The audit routes and hooks over real HTTP, and `rollgate audit` as a real process.
 *
 * The server is a real Hono app on a loopback port with the real store, trail and audit routes,
 * plus two routes of this test that change something through `audited` (the hook the API's
 * mutating routes use). createApi is not used: wiring the trail into it is the main
 * developer's (see the report). The CLI runs as its own node process with the real `registerAudit`
 * command on a commander program, standing in for bin/rollgate.js until main.ts registers it.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { sql } from 'kysely';
import { request } from 'undici';
import { z } from 'zod';
import type { ApiEnv } from '../api/http.js';
import { parse, readJson } from '../api/http.js';
import { registerAuditRoutes } from '../api/routes-audit.js';
import { RollgateError, isRollgateError } from '../core/errors.js';
import { KyselyStore, openStore } from '../store/index.js';
import type { Store } from '../store/types.js';
import { AuditTrail, type AuditEntry, type AuditVerifyResult } from './audit.js';
import { audited } from './audit-hooks.js';

const TOKEN = `rg_test_${randomBytes(8).toString('hex')}`;

let dir: string;
let store: Store;
let trail: AuditTrail;
let server: ServerType;
let base: string;
/** Flags of the test routes: the state the audited mutation changes. */
const flags = new Map<string, boolean>();

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rollgate-audit-api-'));
  store = await openStore({ dataDir: join(dir, 'data') });
  trail = new AuditTrail(store, randomBytes(32));
  const app = new Hono<ApiEnv>();
  app.onError((err, c) => (isRollgateError(err) ? c.json(err.toJSON(), err.status as 400) : c.json({ error: { code: 'internal', message: err.message } }, 500)));
  app.use('/v1/*', async (c, next) => {
    if (c.req.header('authorization') !== `Bearer ${TOKEN}`) throw new RollgateError('unauthorized', 'no token');
    c.set('actor', c.req.header('x-test-actor') ?? 'token:test');
    await next();
  });
  registerAuditRoutes(app, { audit: trail });
  const FlagBody = z.object({ on: z.boolean(), password: z.string().optional(), deny: z.boolean().optional(), fail: z.boolean().optional() });
  for (const [path, trustProxy] of [['/v1/test/flags/:name', false], ['/v1/test/proxied/flags/:name', true]] as const) {
    app.post(path, async (c) => {
      const name = c.req.param('name');
      const body = parse(FlagBody, await readJson(c), 'body');
      const result = await audited(
        trail,
        c,
        { action: 'flag.set', target: `flag/${name}`, before: { on: flags.get(name) ?? null }, after: (r: { on: boolean }) => ({ ...r, password: body.password }) },
        async () => {
          if (body.deny) throw new RollgateError('forbidden', 'your role may not change flags');
          if (body.fail) throw new RollgateError('conflict', 'flag is locked');
          flags.set(name, body.on);
          return { on: body.on };
        },
        { trustProxy },
      );
      return c.json(result);
    });
  }
  server = await new Promise<ServerType>((ok) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => ok(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  await new Promise<void>((ok) => server.close(() => ok()));
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function call(method: 'GET' | 'POST', path: string, opts: { body?: unknown; headers?: Record<string, string> } = {}): Promise<{ status: number; text: string; type: string; json: () => unknown }> {
  const res = await request(base + path, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', 'user-agent': 'audit-test/1.0', ...opts.headers },
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  const text = await res.body.text();
  return { status: res.statusCode, text, type: String(res.headers['content-type'] ?? ''), json: () => JSON.parse(text) as unknown };
}

function uid(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

describe('auditing API mutations', () => {
  test('a change is recorded with the actor, the client address and agent, before and after (secrets redacted)', async () => {
    const actor = uid('alice');
    const name = uid('checkout');
    assert.equal((await call('POST', `/v1/test/flags/${name}`, { body: { on: true, password: 'hunter2' }, headers: { 'x-test-actor': actor } })).status, 200);
    assert.equal((await call('POST', `/v1/test/flags/${name}`, { body: { on: false }, headers: { 'x-test-actor': actor } })).status, 200);
    const [second, first] = (await call('GET', `/v1/audit?actor=${actor}`)).json() as AuditEntry[];
    assert.deepEqual(
      { action: first!.action, target: first!.target, outcome: first!.outcome, source: first!.source, before: first!.before, after: first!.after },
      { action: 'flag.set', target: `flag/${name}`, outcome: 'ok', source: { address: '127.0.0.1', userAgent: 'audit-test/1.0' }, before: { on: null }, after: { on: true, password: '[redacted]' } },
    );
    assert.deepEqual([second!.before, second!.after], [{ on: true }, { on: false }]);
  });

  test('refused and failed attempts are recorded as denied and failed, and change nothing', async () => {
    const actor = uid('bob');
    const name = uid('search');
    assert.equal((await call('POST', `/v1/test/flags/${name}`, { body: { on: true, deny: true }, headers: { 'x-test-actor': actor } })).status, 403);
    assert.equal((await call('POST', `/v1/test/flags/${name}`, { body: { on: true, fail: true }, headers: { 'x-test-actor': actor } })).status, 409);
    assert.equal(flags.has(name), false);
    const [failed, denied] = (await call('GET', `/v1/audit?actor=${actor}`)).json() as AuditEntry[];
    assert.equal(denied!.outcome, 'denied');
    assert.deepEqual(denied!.after, { error: { code: 'forbidden', message: 'your role may not change flags' } });
    assert.equal(failed!.outcome, 'failed');
    assert.deepEqual(failed!.after, { error: { code: 'conflict', message: 'flag is locked' } });
    const onlyDenied = (await call('GET', `/v1/audit?actor=${actor}&outcome=denied`)).json() as AuditEntry[];
    assert.deepEqual(onlyDenied.map((e) => e.seq), [denied!.seq]);
  });

  test('X-Forwarded-For counts only behind a trusted proxy, and only as a valid address', async () => {
    const actor = uid('carol');
    const headers = { 'x-test-actor': actor, 'x-forwarded-for': '6.6.6.6, 203.0.113.9' };
    await call('POST', `/v1/test/flags/${uid('f')}`, { body: { on: true }, headers });
    await call('POST', `/v1/test/proxied/flags/${uid('f')}`, { body: { on: true }, headers });
    await call('POST', `/v1/test/proxied/flags/${uid('f')}`, { body: { on: true }, headers: { 'x-test-actor': actor, 'x-forwarded-for': 'not-an-address' } });
    const got = ((await call('GET', `/v1/audit?actor=${actor}`)).json() as AuditEntry[]).map((e) => e.source.address).reverse();
    // Untrusted: the socket's peer. Trusted: the address the proxy appended (the last), never the client-supplied first.
    assert.deepEqual(got, ['127.0.0.1', '203.0.113.9', '127.0.0.1']);
  });
});

describe('audit routes', () => {
  test('GET /v1/audit filters, pages, and refuses bad queries with a clear 400', async () => {
    const actor = uid('dave');
    for (const action of ['secret.set', 'secret.rm', 'token.revoke']) await trail.record({ actor, action, target: 't' });
    const list = (q: string) => (call('GET', `/v1/audit?actor=${actor}&${q}`).then((r) => r.json())) as Promise<AuditEntry[]>;
    assert.deepEqual((await list('action=secret.*')).map((e) => e.action), ['secret.rm', 'secret.set']);
    assert.deepEqual((await list('action=token.revoke')).map((e) => e.action), ['token.revoke']);
    assert.deepEqual((await list('since=1d&limit=1')).map((e) => e.action), ['token.revoke']);
    const all = await list('');
    assert.deepEqual((await list(`after=${all[2]!.seq}&limit=1`)).map((e) => e.action), ['secret.rm'], 'after: oldest first');
    assert.deepEqual((await list(`before=${all[0]!.seq}&limit=1`)).map((e) => e.action), ['secret.rm'], 'before: newest first');
    for (const [q, re] of [
      ['since=yesterday', /since/],
      ['limit=0', /limit/],
      ['limit=5000', /limit/],
      ['action=DROP%20TABLE', /action/],
      ['outcome=maybe', /outcome/],
      [`since=${new Date(Date.now() + 86_400_000).toISOString().slice(0, 10)}`, /not in the past/],
    ] as const) {
      const r = await call('GET', `/v1/audit?${q}`);
      assert.equal(r.status, 400, q);
      assert.match((r.json() as { error: { message: string } }).error.message, re, q);
    }
  });

  test('GET /v1/audit/export streams JSON lines, oldest first; GET /v1/audit/verify checks the chain', async () => {
    await trail.record({ actor: uid('erin'), action: 'user.create', target: 'user/x' });
    const r = await call('GET', '/v1/audit/export');
    assert.equal(r.status, 200);
    assert.match(r.type, /application\/x-ndjson/);
    const lines = r.text.trimEnd().split('\n').map((l) => JSON.parse(l) as AuditEntry);
    assert.deepEqual(lines, await trail.list({ afterSeq: 0, limit: 1000 }));
    const v = (await call('GET', '/v1/audit/verify')).json() as AuditVerifyResult;
    assert.deepEqual(v, { ok: true, entries: lines.length, head: { seq: lines.at(-1)!.seq, hash: lines.at(-1)!.hash } });
  });
});

// ---- the CLI, as a process

const COMMANDER = pathToFileURL(createRequire(import.meta.url).resolve('commander')).href;
const AUDIT_COMMAND = new URL('../cli/commands/audit.js', import.meta.url).href;

/** `rollgate <args>` with only the audit command registered; exit code as main.ts gives it. */
function rollgate(args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const code = `
    import { Command, CommanderError } from ${JSON.stringify(COMMANDER)};
    import { registerAudit } from ${JSON.stringify(AUDIT_COMMAND)};
    const program = new Command('rollgate').enablePositionalOptions().exitOverride();
    registerAudit(program);
    try {
      await program.parseAsync(process.argv.slice(1), { from: 'user' });
    } catch (e) {
      process.exit(e instanceof CommanderError ? 2 : 1);
    }
    process.exit(process.exitCode ?? 0);
  `;
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ROLLGATE_')) env[k] = v;
  env.ROLLGATE_TOKEN = TOKEN;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', code, ...args, '--server', base], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (exit) => {
      clearTimeout(timer);
      resolve({ code: exit, stdout, stderr });
    });
  });
}

describe('rollgate audit (CLI process)', () => {
  test('lists, verifies, exports; after rows are edited in the database, verify exits 1 naming the first broken entry', async () => {
    const actor = uid('frank');
    const made: AuditEntry[] = [];
    for (let i = 0; i < 4; i++) made.push(await trail.record({ actor, action: 'deployment.promote', target: `deployment/d${i}`, source: { address: '10.0.0.9' } }));

    const table = await rollgate(['audit', '--actor', actor], dir);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /SEQ\s+AT\s+ACTOR\s+ACTION\s+TARGET\s+OUTCOME\s+FROM/);
    assert.equal(table.stdout.trim().split('\n').length, 5);
    assert.match(table.stdout.split('\n')[1]!, new RegExp(`^${made[3]!.seq}\\s.*${actor}\\s+deployment\\.promote\\s+deployment/d3\\s+ok\\s+10\\.0\\.0\\.9$`));

    const json = await rollgate(['audit', '--actor', actor, '--action', 'deployment.*', '--since', '1d', '--json'], dir);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual((JSON.parse(json.stdout) as AuditEntry[]).map((e) => e.seq), made.map((e) => e.seq).reverse());

    const bad = await rollgate(['audit', '--since', 'last tuesday'], dir);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--since/);

    const ok = await rollgate(['audit', 'verify'], dir);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, new RegExp(`audit trail intact: \\d+ entries, head is entry ${made[3]!.seq}`));

    const exported = await rollgate(['audit', 'export'], dir);
    assert.equal(exported.code, 0, exported.stderr);
    assert.equal(exported.stdout, (await call('GET', '/v1/audit/export')).text, 'the CLI export has the same lines as the server export');
    assert.match(exported.stderr, /exported \d+ audit entries/);

    const file = join(dir, 'audit.jsonl');
    const toFile = await rollgate(['audit', 'export', '-o', file], dir);
    assert.equal(toFile.code, 0, toFile.stderr);
    assert.equal(readFileSync(file, 'utf8'), exported.stdout);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const again = await rollgate(['audit', 'export', '-o', file], dir);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /exists already/);

    // Now someone with database access edits one entry and deletes a later one.
    assert.ok(store instanceof KyselyStore);
    await sql`drop trigger audit_log_no_update`.execute(store.db);
    await sql`drop trigger audit_log_no_delete`.execute(store.db);
    await sql`update audit_log set target = 'deployment/other' where seq = ${made[1]!.seq}`.execute(store.db);
    await sql`delete from audit_log where seq = ${made[2]!.seq}`.execute(store.db);

    const broken = await rollgate(['audit', 'verify'], dir);
    assert.equal(broken.code, 1, `stdout: ${broken.stdout}\nstderr: ${broken.stderr}`);
    assert.match(broken.stderr, new RegExp(`error: audit trail broken at entry ${made[1]!.seq}: entry ${made[1]!.seq} does not match its hash: it was edited`));
    const brokenJson = await rollgate(['audit', 'verify', '--json'], dir);
    assert.equal(brokenJson.code, 1);
    const doc = JSON.parse(brokenJson.stdout) as { ok: boolean; firstBroken: number; error: { code: string } };
    assert.deepEqual([doc.ok, doc.firstBroken, doc.error.code], [false, made[1]!.seq, 'audit_broken']);

    // Put the edited field back: the deletion is what verify names now.
    await sql`update audit_log set target = 'deployment/d1' where seq = ${made[1]!.seq}`.execute(store.db);
    const deleted = await rollgate(['audit', 'verify'], dir);
    assert.equal(deleted.code, 1);
    assert.match(deleted.stderr, new RegExp(`broken at entry ${made[2]!.seq}: entry ${made[2]!.seq} is missing \\(deleted\\)`));
  });
});
