/**
 * `rollgate secret …` as a user runs it: a real CLI process (the commands registered on a fresh
 * program) against a real HTTP server with the secret routes, the value piped on stdin, read
 * from a file, or typed at a terminal (a pseudo-terminal from `script`) that must not echo it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { isRollgateError, RollgateError } from '../../core/errors.js';
import { Secrets } from '../../engine/secrets/secrets.js';
import type { ApiEnv } from '../../api/http.js';
import { registerSecretRoutes } from '../../api/routes-secrets.js';
import { openStore, type Store } from '../../store/index.js';
import { stripOneNewline } from './secret.js';

const dir = mkdtempSync(join(tmpdir(), 'rollgate-secret-cli-'));
const TOKEN = randomBytes(16).toString('hex');
const runner = join(dir, 'rollgate.mjs');
let store: Store;
let secrets: Secrets;
let server: ServerType;
let url: string;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], stdin?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [runner, ...args, '--server', url], { env: { ...process.env, ROLLGATE_TOKEN: TOKEN }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    p.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    p.once('error', reject);
    p.once('close', (code) => resolve({ code, stdout, stderr }));
    p.stdin.end(stdin ?? '');
  });
}

before(async () => {
  store = await openStore({ dataDir: join(dir, 'server') });
  await store.upsertApp('shop', { run: 'node server.js' });
  await store.upsertEnvironment('production', { listen: 18_093 });
  secrets = new Secrets({ store, masterKey: randomBytes(32) });
  const app = new Hono<ApiEnv>();
  app.onError((err, c) => (isRollgateError(err) ? c.json(err.toJSON(), err.status as 400) : c.json({ error: { code: 'internal', message: 'internal error' } }, 500)));
  app.use('/v1/*', async (c, next) => {
    if (c.req.header('authorization') !== `Bearer ${TOKEN}`) throw new RollgateError('unauthorized', 'wrong token');
    c.set('actor', 'token:cli');
    await next();
  });
  registerSecretRoutes(app, { secrets });
  server = await new Promise<ServerType>((ok) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => ok(s));
  });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  writeFileSync(
    runner,
    `const { Command } = await import(${JSON.stringify(import.meta.resolve('commander'))});
const { registerSecret } = await import(${JSON.stringify(new URL('./secret.js', import.meta.url).href)});
const program = new Command('rollgate');
registerSecret(program);
await program.parseAsync(process.argv.slice(2), { from: 'user' });
`,
  );
});

after(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('rollgate secret', { timeout: 60_000 }, () => {
  test('set from stdin (one trailing newline dropped), rotate from a file, list, rm', async () => {
    const v1 = `piped-${randomBytes(8).toString('hex')}`;
    const set = await cli(['secret', 'set', 'shop', 'DB_PASSWORD', '--env', 'production'], `${v1}\n`);
    assert.equal(set.code, 0, set.stderr);
    assert.equal(set.stdout.trim(), 'set DB_PASSWORD for shop in production (version 1, new)');
    assert.deepEqual(await secrets.resolve('shop', 'production'), { DB_PASSWORD: v1 });

    const again = await cli(['secret', 'set', 'shop', 'DB_PASSWORD', '--env', 'production'], v1);
    assert.match(again.stdout, /already has this value \(version 1\); nothing changed/);

    const v2 = `-----BEGIN-----\n${randomBytes(20).toString('base64')}\n-----END-----`;
    const file = join(dir, 'value.pem');
    writeFileSync(file, `${v2}\n`, { mode: 0o600 });
    const rot = await cli(['secret', 'rotate', 'shop', 'DB_PASSWORD', '--env', 'production', '--file', file, '--json']);
    assert.equal(rot.code, 0, rot.stderr);
    const doc = JSON.parse(rot.stdout) as { version: number; previousVersion: number };
    assert.deepEqual([doc.previousVersion, doc.version], [1, 2]);
    assert.equal((await secrets.resolve('shop', 'production')).DB_PASSWORD, v2, 'multi-line value kept, its trailing newline dropped');

    const list = await cli(['secret', 'list', 'shop']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^ENV\s+NAME\s+VERSION\s+SET AT\s+BY\nproduction\s+DB_PASSWORD\s+2\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\s+token:cli$/m);
    const json = JSON.parse((await cli(['secret', 'list', 'shop', '--env', 'production', '--json'])).stdout) as { name: string }[];
    assert.deepEqual(json.map((s) => s.name), ['DB_PASSWORD']);

    const rm = await cli(['secret', 'rm', 'shop', 'DB_PASSWORD', '--env', 'production']);
    assert.equal(rm.code, 0, rm.stderr);
    assert.equal(rm.stdout.trim(), 'removed DB_PASSWORD of shop in production (versions 1, 2)');
    assert.equal((await cli(['secret', 'list', 'shop'])).stdout.trim(), 'shop has no secrets');
    for (const r of [set, again, rot, list, rm]) for (const v of [v1, v2]) assert.ok(!r.stdout.includes(v) && !r.stderr.includes(v));
  });

  test('a value on the command line is refused (and not echoed); so are bad names and short values', async () => {
    const v = `argv-${randomBytes(8).toString('hex')}`;
    const r = await cli(['secret', 'set', 'shop', 'API_KEY', v, '--env', 'production']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /never taken from the command line .* pipe it on stdin, use --file, or leave it out to be prompted/);
    assert.ok(!r.stderr.includes(v) && !r.stdout.includes(v));
    assert.deepEqual(await secrets.resolve('shop', 'production'), {}, 'nothing was set');

    const name = await cli(['secret', 'set', 'shop', 'api-key', '--env', 'production'], 'whatever-value');
    assert.equal(name.code, 2);
    assert.match(name.stderr, /not an environment variable name/);
    const short = await cli(['secret', 'set', 'shop', 'API_KEY', '--env', 'production'], 'tiny7\n');
    assert.equal(short.code, 2);
    assert.match(short.stderr, /at least 8 characters/);
    assert.ok(!short.stderr.includes('tiny7'));
    const missing = await cli(['secret', 'set', 'shop', 'API_KEY', '--env', 'production', '--file', join(dir, 'nope')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read --file .*nope \(ENOENT\)/);
  });

  test('at a terminal: prompted twice, nothing echoed', { skip: spawnSync('script', ['--version']).status === 0 ? false : 'no `script` command for a pseudo-terminal' }, async () => {
    const v = `typed-${randomBytes(8).toString('hex')}`;
    const command = [process.execPath, runner, 'secret', 'set', 'shop', 'TYPED_KEY', '--env', 'production', '--server', url].map((a) => `'${a}'`).join(' ');
    const r = await new Promise<Run>((resolve, reject) => {
      const p = spawn('script', ['-qec', command, '/dev/null'], { env: { ...process.env, ROLLGATE_TOKEN: TOKEN }, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (b: Buffer) => {
        stdout += b.toString();
        // Type each entry once its prompt shows.
        if (stdout.includes('value of TYPED_KEY: ') && !stdout.includes('(again)') && !typed.first) typed.first = p.stdin.write(`${v}\r`);
        if (stdout.includes('(again): ') && !typed.second) typed.second = p.stdin.write(`${v}\r`);
      });
      const typed = { first: false, second: false };
      p.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      p.once('error', reject);
      p.once('close', (code) => resolve({ code, stdout, stderr }));
    });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /set TYPED_KEY for shop in production \(version 1, new\)/);
    assert.ok(!r.stdout.includes(v) && !r.stderr.includes(v), `the terminal showed the value: ${r.stdout}`);
    assert.equal((await secrets.resolve('shop', 'production')).TYPED_KEY, v);
  });

  test('stripOneNewline drops exactly one', () => {
    assert.equal(stripOneNewline(Buffer.from('a\n\n')).toString(), 'a\n');
    assert.equal(stripOneNewline(Buffer.from('a\r\n')).toString(), 'a');
    assert.equal(stripOneNewline(Buffer.from('a')).toString(), 'a');
    assert.equal(stripOneNewline(Buffer.alloc(0)).length, 0);
  });
});
