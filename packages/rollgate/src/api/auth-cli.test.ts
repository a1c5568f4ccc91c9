/**
 * The CLI's login, whoami, users, tokens and logout, run as real processes against a real HTTP
 * server (authorize middleware + route table + auth routes on SQLite). cli/main.ts does not
 * register these commands yet, so a small entry script in the test directory builds the program
 * from their register functions, as main.ts will.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { AddressInfo } from 'node:net';
import { Hono } from 'hono';
import { serve, type ServerType } from '@hono/node-server';
import { isRollgateError } from '../core/errors.js';
import { Accounts } from '../engine/auth/accounts.js';
import { Auth } from '../engine/auth/auth.js';
import { bootstrapAdmin } from '../engine/auth/bootstrap.js';
import { openStore } from '../store/index.js';
import type { Store } from '../store/types.js';
import { discoverServer } from '../cli/config.js';
import { authorize } from './authz.js';
import type { ApiEnv } from './http.js';
import { ROUTE_PERMISSIONS } from './route-permissions.js';
import { registerAuthRoutes } from './routes-auth.js';

const CHEAP = { logN: 10, r: 8, p: 1 };
let dir: string;
let home: string;
let entry: string;
let store: Store;
let server: ServerType;
let base: string;
let adminToken: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], opts: { stdin?: string; token?: string } = {}): Promise<Run> {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: home, ROLLGATE_SERVER: base };
  if (opts.token) env.ROLLGATE_TOKEN = opts.token;
  const p = spawn(process.execPath, [entry, ...args], { env, cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  p.stdin.end(opts.stdin ?? '');
  return new Promise((ok) => p.on('close', (code) => ok({ code: code ?? -1, stdout, stderr })));
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rollgate-auth-cli-'));
  home = join(dir, 'home');
  store = await openStore({ dataDir: join(dir, 'data') });
  const auth = new Auth(store, { scrypt: CHEAP });
  adminToken = (await bootstrapAdmin(store, join(dir, 'data'), { scrypt: CHEAP })).token!;
  const app = new Hono<ApiEnv>();
  app.onError((err, c) => (isRollgateError(err) ? c.json(err.toJSON(), err.status as 400) : c.json({ error: { code: 'internal', message: err.message } }, 500)));
  app.use('*', authorize(ROUTE_PERMISSIONS, { auth, store }));
  registerAuthRoutes(app, { auth, accounts: new Accounts(store, auth) });
  server = await new Promise<ServerType>((ok) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => ok(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const cmd = (f: string) => pathToFileURL(fileURLToPath(new URL(`../cli/commands/${f}`, import.meta.url))).href;
  entry = join(dir, 'rollgate-auth.mjs');
  writeFileSync(
    entry,
    `import { Command } from ${JSON.stringify(pathToFileURL(fileURLToPath(import.meta.resolve('commander'))).href)};
import { registerAuth } from ${JSON.stringify(cmd('auth.js'))};
import { registerUsers } from ${JSON.stringify(cmd('users.js'))};
import { registerTokens } from ${JSON.stringify(cmd('tokens.js'))};
const program = new Command('rollgate').enablePositionalOptions().exitOverride();
registerAuth(program); registerUsers(program); registerTokens(program);
try { await program.parseAsync(process.argv); } catch { process.exitCode = 2; }
process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
`,
  );
});

after(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

test('admin adds a user; the user logs in, works with the saved token, makes and revokes tokens, logs out', async () => {
  const add = await cli(['users', 'add', 'carol', '--role', 'developer', '--password-stdin'], { token: adminToken, stdin: 'carol has a long password\n' });
  assert.equal(add.code, 0, add.stderr);
  assert.match(add.stdout, /added user carol \(developer\)/);
  assert.doesNotMatch(add.stdout, /carol has a long password/);

  const bad = await cli(['login', '--user', 'carol', '--password-stdin'], { stdin: 'wrong password\n' });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /user name or password not accepted/);

  const login = await cli(['login', '--user', 'carol', '--password-stdin', '--expires', '1d', '--json'], { stdin: 'carol has a long password\n' });
  assert.equal(login.code, 0, login.stderr);
  const doc = JSON.parse(login.stdout) as { user: string; tokenId: string; credentials: string };
  assert.equal(doc.user, 'carol');
  assert.equal(doc.credentials, join(home, '.config', 'rollgate', 'credentials.json'));
  assert.equal(statSync(doc.credentials).mode & 0o777, 0o600);
  assert.equal(statSync(join(home, '.config', 'rollgate')).mode & 0o777, 0o700);
  const saved = JSON.parse(readFileSync(doc.credentials, 'utf8')) as { servers: Record<string, { token: string }> };
  const token = saved.servers[base]!.token;
  assert.match(token, /^rg_/);
  assert.ok(!login.stdout.includes(token), 'the token is saved, not printed');
  // discoverServer prefers the saved token to a local api.token, after ROLLGATE_TOKEN.
  assert.deepEqual(discoverServer({ env: { HOME: home }, flag: base, cwd: dir }), { url: base, token, source: 'flag', tokenFile: doc.credentials });
  assert.equal(discoverServer({ env: { HOME: home, ROLLGATE_TOKEN: 'rg_env' }, flag: base, cwd: dir }).token, 'rg_env');
  assert.equal(discoverServer({ env: { HOME: home }, flag: 'http://127.0.0.1:1', cwd: dir }).token, null, 'keyed by server URL');

  const who = await cli(['whoami', '--json']);
  assert.equal(who.code, 0, who.stderr);
  assert.deepEqual(JSON.parse(who.stdout).roles, ['developer']);

  const created = await cli(['tokens', 'create', '--role', 'developer', '--expires', '30d', '--name', 'ci', '--json']);
  assert.equal(created.code, 0, created.stderr);
  const t = JSON.parse(created.stdout) as { id: string; token: string; roles: string[] };
  assert.deepEqual(t.roles, ['developer']);
  const escalate = await cli(['tokens', 'create', '--role', 'admin']);
  assert.equal(escalate.code, 2);
  assert.match(escalate.stderr, /does not hold admin/);
  const list = await cli(['tokens', 'list']);
  assert.match(list.stdout, new RegExp(t.id));
  assert.doesNotMatch(list.stdout, /rg_/);
  assert.equal((await cli(['tokens', 'revoke', t.id])).code, 0);
  const revokedUse = await cli(['whoami'], { token: t.token });
  assert.equal(revokedUse.code, 2);
  assert.match(revokedUse.stderr, /API token revoked/);

  const denied = await cli(['users']);
  assert.equal(denied.code, 2);
  assert.match(denied.stderr, /user:carol may not users\.manage/);

  const out = await cli(['logout']);
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, /logged out .* revoked/);
  assert.deepEqual(JSON.parse(readFileSync(doc.credentials, 'utf8')).servers, {});
  const gone = await cli(['whoami'], { token });
  assert.match(gone.stderr, /API token revoked/);
});

test('users set and rm, and the last admin is kept', async () => {
  assert.equal((await cli(['users', 'add', 'dave', '--role', 'viewer', '--no-password'], { token: adminToken })).code, 0);
  const set = await cli(['users', 'set', 'dave', '--role', 'release-manager', '--reset-password', '--json'], { token: adminToken });
  assert.equal(set.code, 0, set.stderr);
  const r = JSON.parse(set.stdout) as { user: { roles: string[]; hasPassword: boolean }; password: string };
  assert.deepEqual(r.user.roles, ['release-manager']);
  assert.equal(r.password.length, 24);
  const last = await cli(['users', 'set', 'admin', '--disable'], { token: adminToken });
  assert.equal(last.code, 2);
  assert.match(last.stderr, /last enabled admin/);
  assert.equal((await cli(['users', 'rm', 'dave'], { token: adminToken })).code, 0);
  assert.doesNotMatch((await cli(['users'], { token: adminToken })).stdout, /dave/);
});
