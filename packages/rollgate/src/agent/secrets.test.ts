/**
 * Secrets in the agent: the masker on its own, then a real agent running a real app that prints
 * its secrets: they reach the app's environment, never its captured log, the state file or an
 * API answer; a restarted agent waits for them before starting anything.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { ServiceKey, VersionDesired } from '../core/dataplane.js';
import { RollgateError } from '../core/errors.js';
import { AgentClient } from './client.js';
import { SecretMasker } from '../core/secret-masker.js';
import { InstanceLog } from './logs.js';
import { runAgent, type RunningAgent } from './main.js';
import { desiredStatePath } from './state-file.js';
import { FAST_HEALTH, http, processAlive, tempDir, waitFor } from './testkit.js';
import { freePort } from '../demo/fixtures.js';

const lines0 = (text: string) => text.trim().split('\n').map((l) => (JSON.parse(l) as { text: string }).text);

describe('SecretMasker', () => {
  test('replaces every occurrence, whatever characters the value has', () => {
    const m = new SecretMasker();
    const meta = 'p@ss.w*rd(1)+[x]$^|\\d{2}?';
    m.add('META', meta);
    m.add('PLAIN', 'plain-secret-value');
    assert.equal(m.mask(`a ${meta} b ${meta}${meta} c`), 'a [secret:META] b [secret:META][secret:META] c');
    assert.equal(m.mask('x plain-secret-value y'), 'x [secret:PLAIN] y');
    assert.equal(m.mask('p@ssXw*rd(1)+[x]$^|\\d{2}?'), 'p@ssXw*rd(1)+[x]$^|\\d{2}?', 'metacharacters are literal, not patterns');
    assert.equal(m.mask('nothing here'), 'nothing here');
  });

  test('overlapping and nested values leave no part of either in clear', () => {
    const m = new SecretMasker();
    m.add('A', 'aaaa-bbbb-1234');
    m.add('B', '1234-cccc-dddd');
    m.add('C', 'bbbb-1234');
    const masked = m.mask('>aaaa-bbbb-1234-cccc-dddd<');
    assert.equal(masked, '>[secret:A,C,B]<');
    assert.equal(m.mask('xx bbbb-1234 yy'), 'xx [secret:C] yy');
    const r = new SecretMasker();
    r.add('R', 'abababab');
    assert.equal(r.mask('abababababab'), '[secret:R]', 'overlapping occurrences of one value');
  });

  test('multi-line values are masked line by line; short pieces and short values are not', () => {
    const m = new SecretMasker();
    m.add('PEM', '-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34GkxFhD9\nab\n-----END KEY-----\n');
    assert.equal(m.mask('MIIBOgIBAAJBAKj34GkxFhD9'), '[secret:PEM]');
    assert.equal(m.mask('line -----END KEY----- end'), 'line [secret:PEM] end');
    assert.equal(m.mask('ab'), 'ab');
    const before = m.size;
    m.add('TINY', 'short');
    assert.equal(m.mask('short'), 'short');
    assert.equal(m.size, before, 'nothing of a short value is searched for');
  });

  test('safeCut never cuts through a secret, and holds back what may be the start of one', () => {
    const m = new SecretMasker();
    m.add('S', 'SECRET-VALUE-123');
    const text = `${'x'.repeat(30)}SECRET-VALUE-123${'y'.repeat(5)}`;
    // The secret is whole before the end: nothing needs holding back.
    assert.equal(m.safeCut(text), text.length);
    // An end that may be the start of the secret is held back, nothing else.
    assert.equal(m.safeCut(`${'x'.repeat(30)}SECRET-VAL`), 30);
    assert.equal(m.safeCut('x'.repeat(100)), 100);
    assert.equal(new SecretMasker().safeCut('abc'), 3);
  });

  test('InstanceLog masks before it writes, keeps or cuts a line, even across chunks of an over-long line', async () => {
    const tmp = tempDir();
    try {
      const m = new SecretMasker();
      const value = `sk_live_${randomBytes(12).toString('hex')}`;
      m.add('STRIPE_KEY', value);
      const log = new InstanceLog(tmp.dir, 'shop-production-v1-1', 'v1', m);
      const out = new PassThrough();
      log.capture(out, 'stdout');
      out.write(`key=${value}\n`);
      out.write(`split ${value.slice(0, 10)}`);
      out.write(`${value.slice(10)} done\n`);
      // A line longer than the 16 KiB line limit, with the secret across the chunk boundary.
      const long = 'z'.repeat(16 * 1024 + 5);
      out.write(`${long}${value.slice(0, 7)}`);
      out.write(`${value.slice(7)} tail\n`);
      // The same with the value's base64 form across the boundary.
      const b64 = Buffer.from(value).toString('base64');
      out.write(`${long}${b64.slice(0, 9)}`);
      out.write(`${b64.slice(9)} b64tail\n`);
      out.write('\n');
      out.end(`last ${value}`);
      await new Promise((r) => setImmediate(r));
      log.note(`a note quoting ${value}`);
      await log.close();
      const text = readFileSync(log.file, 'utf8');
      assert.ok(!text.includes(value), 'the value is in the log file');
      assert.ok(!text.includes(b64.slice(0, 12)) && !text.includes(b64.slice(4, 16)), 'part of the base64 form is in the log file');
      assert.ok(lines0(text).some((l) => /\[secret:STRIPE_KEY\].?=* b64tail$/.test(l)), 'the base64 form across the chunk boundary is masked whole');
      assert.ok(!text.includes(value.slice(0, 14)) && !text.includes(value.slice(-14)), 'part of the value is in the log file');
      const lines = text.trim().split('\n').map((l) => (JSON.parse(l) as { text: string }).text);
      assert.ok(lines.includes('key=[secret:STRIPE_KEY]'));
      assert.ok(lines.includes('split [secret:STRIPE_KEY] done'));
      assert.ok(lines.includes(''), 'an empty line is kept');
      assert.ok(lines.includes('last [secret:STRIPE_KEY]'));
      assert.ok(lines.includes('[rollgate] a note quoting [secret:STRIPE_KEY]'));
      assert.ok(lines.some((l) => l.includes('[secret:STRIPE_KEY] tail')), 'the secret across the chunk boundary is masked whole');
      assert.ok(!log.lastLines(20).join('\n').includes(value), 'lines kept for failure messages are masked');
    } finally {
      tmp.cleanup();
    }
  });
});

/** A tiny app: answers with a hash of each secret it got, and prints them (so the log must mask them). */
const APP = `import { createServer } from 'node:http';
import { createHash } from 'node:crypto';
const names = (process.env.SHOW ?? '').split(',').filter(Boolean);
const sha = (v) => createHash('sha256').update(v ?? '').digest('hex');
for (const n of names) console.log('starting with ' + n + '=' + process.env[n]);
for (const n of names) console.error('stderr ' + n + ': ' + process.env[n] + ' <end>');
createServer((req, res) => {
  if (req.url === '/healthz') return res.end('ok');
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(Object.fromEntries(names.map((n) => [n, process.env[n] === undefined ? null : sha(process.env[n])]))));
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

const sha = (v: string) => createHash('sha256').update(v).digest('hex');

describe('secrets in a real agent', { timeout: 90_000 }, () => {
  test('injected as variables, masked in output, never on disk or in answers; a restarted agent waits for them', async () => {
    const tmp = tempDir();
    const key: ServiceKey = { env: 'production', app: 'shop' };
    const pids = new Set<number>();
    let running: RunningAgent | null = null;
    try {
      writeFileSync(join(tmp.dir, 'app.mjs'), APP);
      const version: VersionDesired = {
        version: 'v1',
        releaseId: 'rel-v1',
        dir: tmp.dir,
        command: `${JSON.stringify(process.execPath)} app.mjs`,
        portEnv: 'PORT',
        env: { SHOW: 'DB_PASSWORD,WEIRD', DB_PASSWORD: 'from-config-overridden' },
        replicas: 1,
        health: FAST_HEALTH,
        drainTimeoutMs: 1000,
      };
      const secrets = { DB_PASSWORD: `db-${randomBytes(10).toString('hex')}`, WEIRD: `p@ss.w*rd(${randomBytes(4).toString('hex')})+[x]$` };
      const dataDir = join(tmp.dir, 'data');
      const listenPort = await freePort();
      const answers: string[] = [];
      const start = async () => {
        running = await runAgent({ dataDir, log: (e) => answers.push(JSON.stringify(e)), shutdownTimeoutMs: 5000 });
        return new AgentClient({ url: running.url, token: running.token, timeoutMs: 10_000 });
      };
      const readyInstance = async (c: AgentClient, not?: number) =>
        waitFor('a ready instance', async () => {
          const s = await c.getService(key);
          answers.push(JSON.stringify(s));
          const i = s.versions[0]?.instances.find((x) => x.state === 'ready' && x.pid !== not);
          if (i?.pid) pids.add(i.pid);
          return i ?? null;
        });
      const appSees = async (port: number) => JSON.parse((await http(port, '/')).body) as Record<string, string | null>;

      // 1. Declared with its secrets: the app gets them (secrets win over config of the same name).
      let c = await start();
      answers.push(JSON.stringify(await c.putService(key, { listenPort, versions: [version], secretEnv: secrets })));
      let inst = await readyInstance(c);
      assert.deepEqual(await appSees(inst.port), { DB_PASSWORD: sha(secrets.DB_PASSWORD), WEIRD: sha(secrets.WEIRD) });

      // 2. Its output is masked in the log file and through the API.
      const lines = await waitFor('the app output', async () => {
        const l = await c.logs(key, { tail: 100 });
        return l.some((x) => x.text.startsWith('stderr WEIRD')) ? l : null;
      });
      const texts = lines.map((l) => l.text);
      assert.ok(texts.includes('starting with DB_PASSWORD=[secret:DB_PASSWORD]'), texts.join('\n'));
      assert.ok(texts.includes('starting with WEIRD=[secret:WEIRD]'));
      assert.ok(texts.includes('stderr WEIRD: [secret:WEIRD] <end>'));
      answers.push(JSON.stringify(lines));

      // 3. Re-supplying a changed value replaces the instance (the new one has the new value).
      const rotated = { ...secrets, DB_PASSWORD: `db2-${randomBytes(10).toString('hex')}` };
      answers.push(JSON.stringify(await c.putSecrets(key, rotated)));
      inst = await readyInstance(c, inst.pid!);
      assert.deepEqual(await appSees(inst.port), { DB_PASSWORD: sha(rotated.DB_PASSWORD), WEIRD: sha(rotated.WEIRD) });

      // 4. The state file has the names only.
      const state = readFileSync(desiredStatePath(dataDir), 'utf8');
      assert.deepEqual((JSON.parse(state) as { services: { secretNames: string[] }[] }).services[0]!.secretNames, ['DB_PASSWORD', 'WEIRD']);

      // 5. A restarted agent knows the names only: it starts nothing, and says why.
      await running!.stop();
      for (const pid of pids) assert.equal(processAlive(pid), false);
      c = await start();
      const waiting = await c.getService(key);
      answers.push(JSON.stringify(waiting));
      assert.deepEqual(waiting.awaitingSecrets, ['DB_PASSWORD', 'WEIRD']);
      assert.equal(waiting.versions.length, 1);
      assert.deepEqual(waiting.versions[0]!.instances, []);
      assert.equal(waiting.versions[0]!.failed, false, 'waiting is not failing (a deployment must not roll back over it)');
      assert.match(waiting.versions[0]!.failureReason ?? '', /waiting for secrets DB_PASSWORD, WEIRD from the control plane/);
      // A declaration without secrets (an old control plane) does not start it either.
      const redeclared = await c.putService(key, { listenPort, versions: [version] });
      assert.deepEqual(redeclared.awaitingSecrets, ['DB_PASSWORD', 'WEIRD']);
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual((await c.getService(key)).versions[0]!.instances, [], 'no instance starts without its secrets');
      assert.ok(answers.some((a) => a.includes('waits for its secrets (DB_PASSWORD, WEIRD)')), 'the agent log says what it waits for');

      // 6. Secrets for an undeclared service are refused; bad names too.
      await assert.rejects(c.putSecrets({ env: 'production', app: 'other' }, rotated), (e) => e instanceof RollgateError && e.code === 'not_found');
      await assert.rejects(c.putSecrets(key, { 'BAD-NAME': 'whatever-value' }), (e) => e instanceof RollgateError && e.code === 'invalid_input' && !e.message.includes('whatever-value'));

      // 7. Given the values again, it starts.
      const back = await c.putSecrets(key, rotated);
      answers.push(JSON.stringify(back));
      assert.deepEqual(back.awaitingSecrets, []);
      inst = await readyInstance(c);
      assert.deepEqual(await appSees(inst.port), { DB_PASSWORD: sha(rotated.DB_PASSWORD), WEIRD: sha(rotated.WEIRD) });
      await waitFor('the restarted app output', async () => (await c.logs(key, { tail: 200 })).filter((l) => l.text === 'starting with DB_PASSWORD=[secret:DB_PASSWORD]').length >= 3);
      answers.push(JSON.stringify(await c.listServices()));
      await running!.stop();
      running = null;

      // Nothing the agent wrote or answered holds a value: data dir files, API answers, its own log.
      const values = [...Object.values(secrets), rotated.DB_PASSWORD];
      const files: string[] = [];
      const walk = (d: string) => {
        for (const n of readdirSync(d)) {
          const p = join(d, n);
          if (statSync(p).isDirectory()) walk(p);
          else files.push(p);
        }
      };
      walk(dataDir);
      assert.ok(files.some((f) => f.endsWith('.log')) && files.some((f) => f.endsWith('desired.json')), files.join(', '));
      for (const v of values) {
        for (const f of files) assert.ok(!readFileSync(f).includes(Buffer.from(v)), `${f} holds a secret value`);
        for (const a of answers) assert.ok(!a.includes(v), `an answer or log entry holds a secret value: ${a.slice(0, 200)}`);
      }
    } finally {
      await (running as RunningAgent | null)?.stop();
      for (const pid of pids) if (processAlive(pid)) process.kill(pid, 'SIGKILL');
      tmp.cleanup();
    }
  });
});
