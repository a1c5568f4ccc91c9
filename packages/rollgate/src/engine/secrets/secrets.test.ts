import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RollgateError } from '../../core/errors.js';
import { openStore, type Store } from '../../store/index.js';
import { EventBus } from '../events.js';
import { checkSecretName, checkSecretValue, MAX_SECRET_BYTES, Secrets } from './secrets.js';

const dir = mkdtempSync(join(tmpdir(), 'rollgate-secrets-'));
let store: Store;
let secrets: Secrets;
const masterKey = randomBytes(32);
const events: { type: string; app: string | null; env: string | null; data: unknown }[] = [];

before(async () => {
  store = await openStore({ dataDir: dir });
  await store.upsertApp('shop', { run: 'node server.js' });
  await store.upsertEnvironment('staging', { listen: 18_081 });
  await store.upsertEnvironment('production', { listen: 18_082 });
  const bus = new EventBus(store);
  bus.subscribe((e) => events.push(e));
  secrets = new Secrets({ store, masterKey, events: bus });
});

after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function refused(p: Promise<unknown>, code: string, re: RegExp, value?: string): Promise<void> {
  let err: unknown;
  await assert.rejects(p, (e) => ((err = e), true));
  assert.ok(err instanceof RollgateError, String(err));
  assert.equal(err.code, code, err.message);
  assert.match(err.message, re);
  if (value) assert.ok(!err.message.includes(value), `the message leaks the value: ${err.message}`);
}

describe('names and values', () => {
  test('names are environment-variable names, not reserved ones', () => {
    for (const ok of ['DB_PASSWORD', '_X', 'A1']) assert.equal(checkSecretName(ok), ok);
    for (const bad of ['db_password', '1ABC', 'A-B', 'A B', '', 'X'.repeat(129), 'ÄPI']) assert.throws(() => checkSecretName(bad), /not an environment variable name/);
    assert.throws(() => checkSecretName('ROLLGATE_VERSION'), /reserves/);
  });

  test('values: 8 characters to 64 KiB of UTF-8 text without NUL; messages never quote them', () => {
    assert.equal(checkSecretValue('12345678', 'X'), '12345678');
    assert.equal(checkSecretValue(Buffer.from('ünïcödé!'), 'X'), 'ünïcödé!', '8 characters even if more bytes');
    const short = 'abc1234';
    assert.throws(() => checkSecretValue(short, 'X'), (e) => e instanceof RollgateError && e.code === 'invalid_input' && /7 characters long; secrets must be at least 8/.test(e.message) && !e.message.includes(short));
    assert.throws(() => checkSecretValue('x'.repeat(MAX_SECRET_BYTES + 1), 'X'), (e) => e instanceof RollgateError && e.code === 'payload_too_large');
    assert.equal(checkSecretValue('y'.repeat(MAX_SECRET_BYTES), 'X').length, MAX_SECRET_BYTES);
    assert.throws(() => checkSecretValue(Buffer.from([0x41, 0x42, 0xff, 0xfe, 0x43, 0x44, 0x45, 0x46, 0x47]), 'X'), /not valid UTF-8/);
    assert.throws(() => checkSecretValue('abcd\0efghij', 'X'), /NUL/);
  });
});

describe('Secrets', () => {
  test('set, list, rotate, rm, resolve; events carry names and versions only', async () => {
    events.length = 0;
    const v1 = `first-${randomBytes(6).toString('hex')}`;
    const v2 = `second-${randomBytes(6).toString('hex')}`;
    const a = await secrets.set('shop', 'staging', 'DB_PASSWORD', v1, 'user:ana');
    assert.deepEqual([a.version, a.created, a.changed], [1, true, true]);
    const again = await secrets.set('shop', 'staging', 'DB_PASSWORD', v1, 'user:bob');
    assert.deepEqual([again.version, again.created, again.changed, again.createdBy], [1, false, false, 'user:ana'], 'setting the same value again changes nothing');
    const r = await secrets.rotate('shop', 'staging', 'DB_PASSWORD', v2, 'user:bob');
    assert.deepEqual([r.version, r.previousVersion, r.createdBy], [2, 1, 'user:bob']);
    await secrets.set('shop', 'production', 'DB_PASSWORD', `prod-${randomBytes(6).toString('hex')}`, 'user:ana');

    assert.deepEqual(await secrets.resolve('shop', 'staging'), { DB_PASSWORD: v2 });
    assert.deepEqual((await secrets.list('shop')).map((s) => [s.env, s.name, s.version]), [['production', 'DB_PASSWORD', 1], ['staging', 'DB_PASSWORD', 2]]);
    assert.deepEqual((await secrets.list('shop', 'staging')).map((s) => s.version), [2]);

    const gone = await secrets.rm('shop', 'production', 'DB_PASSWORD', 'user:ana');
    assert.deepEqual(gone.versions, [1]);
    assert.deepEqual(await secrets.resolve('shop', 'production'), {});

    assert.deepEqual(events.map((e) => [e.type, e.env]), [['secret.set', 'staging'], ['secret.rotated', 'staging'], ['secret.set', 'production'], ['secret.removed', 'production']]);
    const text = JSON.stringify(events);
    assert.ok(!text.includes(v1) && !text.includes(v2), 'no event carries a value');
    assert.deepEqual(events[1]!.data, { name: 'DB_PASSWORD', version: 2, previousVersion: 1, actor: 'user:bob' });
  });

  test('mistakes are refused with what to do, and never echo the value', async () => {
    const v = `value-${randomBytes(6).toString('hex')}`;
    await refused(secrets.set('nope', 'staging', 'X_KEY', v, 'a'), 'not_found', /unknown app "nope".*Known apps: shop/, v);
    await refused(secrets.set('shop', 'nope', 'X_KEY', v, 'a'), 'not_found', /unknown environment "nope"/, v);
    await refused(secrets.set('shop', 'staging', 'lower', v, 'a'), 'invalid_input', /not an environment variable name/, v);
    await refused(secrets.set('shop', 'staging', 'SHORT', 'zq9x7', 'a'), 'invalid_input', /at least 8/, 'zq9x7');
    await refused(secrets.rotate('shop', 'staging', 'MISSING', v, 'a'), 'not_found', /no secret MISSING in staging; set it first with `rollgate secret set shop MISSING --env staging`/, v);
    await secrets.set('shop', 'staging', 'SAME', v, 'a');
    await refused(secrets.rotate('shop', 'staging', 'SAME', v, 'a'), 'conflict', /same as its current one \(version 1\)/, v);
    await refused(secrets.rm('shop', 'staging', 'MISSING', 'a'), 'not_found', /no secret MISSING in staging; nothing was removed/);
    await refused(secrets.list('nope'), 'not_found', /unknown app "nope"/);
    await refused(secrets.set('shop', 'staging', 'PORT', v, 'a'), 'invalid_input', /PORT carries the port of every shop instance/, v);
  });

  test('concurrent sets of one secret each get their own version', async () => {
    const values = Array.from({ length: 6 }, (_, i) => `concurrent-${i}-${randomBytes(4).toString('hex')}`);
    const results = await Promise.all(values.map((v) => secrets.set('shop', 'staging', 'RACE', v, 'a')));
    assert.deepEqual(results.map((r) => r.version).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6]);
    const last = results.find((r) => r.version === 6)!;
    assert.equal((await secrets.resolve('shop', 'staging')).RACE, values[results.indexOf(last)]);
  });

  test('known values mask platform output, the old ones after a rotation too', async () => {
    const old = `old-${randomBytes(6).toString('hex')}`;
    const fresh = `new-${randomBytes(6).toString('hex')}`;
    await secrets.set('shop', 'staging', 'MASKED', old, 'a');
    await secrets.rotate('shop', 'staging', 'MASKED', fresh, 'a');
    const names = new Map(secrets.knownValues().map((k) => [k.value, k.name]));
    assert.equal(names.get(old), 'MASKED');
    assert.equal(names.get(fresh), 'MASKED');
    assert.equal(secrets.mask(`connect with ${fresh} (was ${old})`), 'connect with [secret:MASKED] (was [secret:MASKED])');
    // In a JSON log line, a value with quotes or newlines is escaped: masked all the same.
    const quoted = `say "hi"\n${randomBytes(6).toString('hex')}`;
    await secrets.set('shop', 'staging', 'QUOTED', quoted, 'a');
    const line = JSON.stringify({ msg: 'oops', detail: quoted });
    assert.equal(secrets.mask(line), JSON.stringify({ msg: 'oops', detail: '[secret:QUOTED]' }));
    // Another process (e.g. a restarted server) learns values as it resolves them.
    const other = new Secrets({ store, masterKey });
    assert.equal(other.mask(fresh), fresh);
    await other.resolve('shop', 'staging');
    assert.equal(other.mask(fresh), '[secret:MASKED]');
  });
});
