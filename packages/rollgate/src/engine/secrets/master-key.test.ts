import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RollgateError } from '../../core/errors.js';
import { deriveKey, loadMasterKey, MASTER_KEY_ENV, parseMasterKey } from './master-key.js';

function temp(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'rollgate-mk-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

function refused(fn: () => unknown, code: string, re: RegExp, secret?: string): RollgateError {
  let err: unknown;
  assert.throws(fn, (e) => ((err = e), true));
  assert.ok(err instanceof RollgateError, String(err));
  assert.equal(err.code, code, err.message);
  assert.match(err.message, re);
  if (secret) assert.ok(!err.message.includes(secret), `the message echoes the key: ${err.message}`);
  return err;
}

test('ROLLGATE_MASTER_KEY: hex and base64 (padded, unpadded, url-safe) give the same 32 bytes', () => {
  const key = randomBytes(32);
  const env = (v: string) => ({ [MASTER_KEY_ENV]: v });
  const { dir, cleanup } = temp();
  try {
    for (const text of [key.toString('hex'), key.toString('hex').toUpperCase(), key.toString('base64'), key.toString('base64').replace(/=+$/, ''), key.toString('base64url'), `  ${key.toString('base64')}\n`]) {
      const mk = loadMasterKey({ dataDir: dir, env: env(text) });
      assert.ok(mk.key.equals(key), text);
      assert.equal(mk.source, 'env');
    }
    assert.deepEqual(readdirSync(dir), [], 'no key file is written when the variable is set');
  } finally {
    cleanup();
  }
});

test('a malformed ROLLGATE_MASTER_KEY is refused with what to give, never echoed', () => {
  const { dir, cleanup } = temp();
  try {
    const short = randomBytes(16).toString('hex');
    refused(() => loadMasterKey({ dataDir: dir, env: { [MASTER_KEY_ENV]: short } }), 'invalid_input', /ROLLGATE_MASTER_KEY decodes to 16 bytes, not 32.*openssl rand -base64 32/, short);
    const long = randomBytes(48).toString('base64');
    refused(() => loadMasterKey({ dataDir: dir, env: { [MASTER_KEY_ENV]: long } }), 'invalid_input', /decodes to 48 bytes/, long);
    const junk = 'correct horse battery staple!!';
    refused(() => loadMasterKey({ dataDir: dir, env: { [MASTER_KEY_ENV]: junk } }), 'invalid_input', /neither hex nor base64/, 'horse');
    refused(() => parseMasterKey('   ', 'the key'), 'invalid_input', /the key is empty/);
  } finally {
    cleanup();
  }
});

test('without the variable: the key file is created once (0600, base64), then read back', () => {
  const { dir, cleanup } = temp();
  try {
    const dataDir = join(dir, 'nested', 'data');
    const first = loadMasterKey({ dataDir, env: {} });
    assert.equal(first.source, 'created');
    const file = join(dataDir, 'master.key');
    assert.equal(first.file, file);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.ok(parseMasterKey(readFileSync(file, 'utf8'), 'file').equals(first.key));
    assert.deepEqual(readdirSync(dataDir), ['master.key'], 'no temporary file is left behind');
    // An empty variable counts as unset (compose files often carry `VAR=`).
    const again = loadMasterKey({ dataDir, env: { [MASTER_KEY_ENV]: '' } });
    assert.equal(again.source, 'file');
    assert.ok(again.key.equals(first.key));
  } finally {
    cleanup();
  }
});

test('concurrent first starts (separate processes) agree on one key', { timeout: 30_000 }, async () => {
  const { dir, cleanup } = temp();
  try {
    const mod = new URL('./master-key.js', import.meta.url).href;
    const script = `const { loadMasterKey } = await import(${JSON.stringify(mod)});
const k = loadMasterKey({ dataDir: process.argv[1], env: {} });
process.stdout.write(k.source + ' ' + k.key.toString('hex'));`;
    const runs = await Promise.all(
      Array.from({ length: 8 }, () =>
        new Promise<string>((resolve, reject) => {
          const p = spawn(process.execPath, ['--input-type=module', '-e', script, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
          let out = '';
          p.stdout.on('data', (b: Buffer) => (out += b.toString()));
          p.once('error', reject);
          p.once('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}`))));
        }),
      ),
    );
    const keys = new Set(runs.map((r) => r.split(' ')[1]));
    assert.equal(keys.size, 1, 'every process got the same key');
    assert.equal(runs.filter((r) => r.startsWith('created ')).length, 1, 'exactly one process created the file');
    assert.equal(parseMasterKey(readFileSync(join(dir, 'master.key'), 'utf8'), 'file').toString('hex'), [...keys][0]);
  } finally {
    cleanup();
  }
});

test('a key file others can read is refused with the chmod to run; a symlink or a bad key too', () => {
  const { dir, cleanup } = temp();
  try {
    const { key } = loadMasterKey({ dataDir: dir, env: {} });
    const file = join(dir, 'master.key');
    for (const mode of [0o640, 0o604, 0o644]) {
      chmodSync(file, mode);
      refused(() => loadMasterKey({ dataDir: dir, env: {} }), 'unavailable', new RegExp(`mode ${mode.toString(8)}.*chmod 600 ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`), key.toString('base64'));
    }
    chmodSync(file, 0o400);
    assert.ok(loadMasterKey({ dataDir: dir, env: {} }).key.equals(key), 'owner-only read is fine');

    const other = join(dir, 'other');
    mkdirSync(other);
    symlinkSync(file, join(other, 'master.key'));
    refused(() => loadMasterKey({ dataDir: other, env: {} }), 'unavailable', /not a regular file/);

    const bad = join(dir, 'bad');
    mkdirSync(bad);
    writeFileSync(join(bad, 'master.key'), 'not a key at all\n', { mode: 0o600 });
    refused(() => loadMasterKey({ dataDir: bad, env: {} }), 'invalid_input', /master key file .* neither hex nor base64/);
  } finally {
    cleanup();
  }
});

test('deriveKey: deterministic per purpose, unrelated across purposes and master keys', () => {
  const a = randomBytes(32);
  const b = randomBytes(32);
  const k1 = deriveKey(a, 'secrets/aes-256-gcm/v1');
  assert.equal(k1.length, 32);
  assert.ok(k1.equals(deriveKey(a, 'secrets/aes-256-gcm/v1')));
  assert.ok(!k1.equals(deriveKey(a, 'audit/hmac/v1')));
  assert.ok(!k1.equals(deriveKey(b, 'secrets/aes-256-gcm/v1')));
  assert.ok(!k1.equals(a));
  assert.throws(() => deriveKey(a, ''), RollgateError);
  assert.throws(() => deriveKey(randomBytes(16), 'x'), RollgateError);
});
